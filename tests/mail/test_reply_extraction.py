"""The reply extraction score (`make bench-replies`) keeps its floor and stays ahead of the open-source extractors."""
from bench.reply_extraction import score
from tests.corpus import corpus_files

# Exact new-text matches of ours when this floor was set (docs/inbound-mail.md has the table and its date).
FLOOR = {"discourse": 62, "talon": 12, "replies": 47, "crisp": 30}


def test_every_corpus_is_there():
    corpus_files("mail/discourse/emails", "*.txt", 64)
    corpus_files("mail/talon", "*.html", 12)
    corpus_files("mail/replies/emails", "*.eml", 47)
    corpus_files("mail/replies/expected", "*.txt", 47)
    corpus_files("mail/crisp/emails", "*.txt", 32)


def test_ours_keeps_its_floor_and_beats_both_libraries_on_every_corpus():
    results, totals, failures = score()

    assert totals == {"discourse": 64, "talon": 12, "replies": 47, "crisp": 32}
    ours = results.pop("ours")
    assert all(ours[corpus] >= floor for corpus, floor in FLOOR.items()), (ours, failures["ours"])
    for library, per_corpus in results.items():
        assert all(ours[corpus] > per_corpus[corpus] for corpus in totals), (library, per_corpus)
