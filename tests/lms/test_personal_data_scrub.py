"""Finding a person's mentions in text and JSON (lms.accounts.personal_data.ErasedPerson.scrub)."""

from lms.accounts.personal_data import ErasedPerson

PERSON = ErasedPerson(
    user=None, email="tan.wei@example.test", names=("Wei Tan", "Wei", "Tan", "陈伟"), placeholder="Erased user 7"
)


def test_names_are_replaced_whole_and_in_any_case() -> None:
    assert PERSON.scrub("Ask wei tan, or TAN.") == "Ask Erased user 7, or Erased user 7."
    assert PERSON.scrub("Mail tan.wei@example.test today") == "Mail Erased user 7 today"


def test_words_that_only_contain_a_name_are_left_alone() -> None:
    assert PERSON.scrub("The standard weighs a ton; Tanjong Pagar") == "The standard weighs a ton; Tanjong Pagar"


def test_a_chinese_name_is_found_inside_chinese_text() -> None:
    assert PERSON.scrub("陈伟的问题") == "Erased user 7的问题"


def test_json_is_scrubbed_throughout_and_other_values_kept() -> None:
    payload = {"queue": [{"user_id": 3, "name": "Wei Tan", "raised": True}], "note": None}
    assert PERSON.scrub(payload) == {"queue": [{"user_id": 3, "name": "Erased user 7", "raised": True}], "note": None}
    assert not PERSON.mentions({"queue": []}) and PERSON.mentions(["tan"])
