"""Reply trimming on Discourse's email_reply_trimmer corpus (64 cases)."""
from chalicelib.mail.trimming import trim_reply
from tests.corpus import FIXTURES, corpus_files

ROOT = FIXTURES / "mail" / "discourse"


def test_discourse_corpus_pass_rate_and_never_empty():
    cases = corpus_files("mail/discourse/emails", "*.txt", 64)
    passed = []
    for path in cases:
        original = path.read_bytes().decode("utf-8", errors="replace")
        trimmed = trim_reply(original)
        expected = (ROOT / "trimmed" / path.name).read_bytes().decode("utf-8", errors="replace").strip()
        if original.strip():
            assert trimmed.strip(), path.name
        if trimmed.strip() == expected:
            passed.append(path.name)
    assert len(passed) >= 62, (len(passed), sorted({p.name for p in cases} - set(passed)))


def test_simple_cases():
    assert trim_reply("Thanks, works!\n\nOn Mon, 1 Jan 2024 at 10:00, Ann <a@x.org> wrote:\n> old text\n") == \
        "Thanks, works!"
    assert trim_reply("Great\n\nSent from my iPhone") == "Great"
    assert trim_reply("Just text") == "Just text"
    assert trim_reply("") == ""
    assert trim_reply("> only a quote") == "> only a quote"  # never empty when there is text
