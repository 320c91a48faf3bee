"""The template sandbox has a budget: templates that would build huge values or loop for seconds are refused (400
naming the field) when saved, fast, and a stored one that goes over it at send time falls back to the default."""
from __future__ import annotations

import time

import pytest

TEMPLATE = "/api/tenant/notification-templates/discussion_message"

OVER_BUDGET = {
    # The two: the output-size check measured the result, not what the template built.
    "a huge intermediate string": '{% set s = "x"|center(20000000) %}{{ s|length }}',
    "1000×1000×10 empty loops": "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(10) %}"
                                "{% endfor %}{% endfor %}{% endfor %}",
    "doubling with ~": '{% set ns = namespace(s="xxxxxxxxxx") %}{% for i in range(60) %}'
                       "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "doubling with +": '{% set ns = namespace(s="xxxxxxxxxx") %}{% for i in range(60) %}'
                       "{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "doubling a captured block": '{% set ns = namespace(s="xxxxxxxxxx") %}{% for i in range(60) %}'
                                 "{% set b %}{{ ns.s }}{{ ns.s }}{% endset %}{% set ns.s = b %}{% endfor %}",
    "a block of repeated text": "{% set b %}{% for i in range(1000) %}" + "y" * 200 + "{% endfor %}{% endset %}x",
    "a wide %-format": '{{ "%0999999999d"|format(1) }}',
    "a wide str.format": '{{ "{:>999999999}".format(1) }}',
    "a wide % operator": '{{ "%0999999999d" % 1 }}',
    "a width passed to a method": '{{ "x".ljust(10**9) }}',
    "a join of repeated separators": '{{ ("x" * 10000)|join(range(1000)|list) }}',
}


@pytest.mark.parametrize("field", ["text", "html", "subject"])
@pytest.mark.parametrize("case", OVER_BUDGET)
def test_a_template_over_the_sandbox_budget_is_refused_fast_naming_the_field(tenant_admin, field, case):
    started = time.monotonic()
    response = tenant_admin.put(TEMPLATE, {field: OVER_BUDGET[case]})
    elapsed = time.monotonic() - started

    assert response.status_code == 400, response.data
    assert response.data["error"]["code"] == "validation_error" and response.data["error"]["field"] == field
    assert "budget" in response.data["error"]["message"] or "too large" in response.data["error"]["message"]
    assert elapsed < 1.0, f"{case}: {elapsed:.2f} s"  # the issue measured 6.2 s for the nested loops
    assert tenant_admin.get(TEMPLATE).data["customised"] is False


def test_ordinary_templates_with_loops_formats_and_joins_are_still_accepted(tenant_admin):
    text = ('Hello {{ recipient_name or "there" }}: {{ title|upper }}{% for line in extra_lines %}\n- {{ line }}'
            '{% endfor %}\n{{ "%-10s|"|format("ok") }} {{ "{:>8}".format(reason|length) }} {{ title ~ "!" }}'
            '{% for i in range(50) %}.{% endfor %} {{ ", ".join(["a", "b"]) }}')

    response = tenant_admin.put(TEMPLATE, {"text": text})

    assert response.status_code == 200, response.data


def test_a_stored_template_over_budget_at_send_time_gives_the_default_wording(aws):
    from chalicelib.notifications import rendering
    from chalicelib.notifications.models import NotificationTemplate

    NotificationTemplate("tenant-a", "discussion_message", text=OVER_BUDGET["1000×1000×10 empty loops"]).save()

    rendered = rendering.render("tenant-a", "discussion_message", dict(rendering.NOTIFICATION_SAMPLE))

    default = rendering._files().get_template("discussion_message.txt").render(rendering.NOTIFICATION_SAMPLE)
    assert rendered.text == default
