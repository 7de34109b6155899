"""The word lists fuzzy name matching consults (:mod:`monitor.watch.fuzzy`): common
English words that are never a name's variant, given names that do not vary alone, and
pairs of names that are two names.  Data only, kept apart from the rules that use it."""

from __future__ import annotations

from typing import Final

# The words of 5+ letters of SCOWL's size-10 English word list (the most common
# English words, some inflected; SCOWL release 2020.12.07, file
# english-words.10, as Debian's ``scowl`` package ships it).  Size 10 is drawn from
# the Moby Words II and Brian Kelk's "UK English Wordlist with Frequency
# Classification", both in the public domain; SCOWL's notice:
#
#   Copyright 2000-2011 by Kevin Atkinson
#
#   Permission to use, copy, modify, distribute and sell these word lists, the
#   associated scripts, the output created from the scripts, and its documentation
#   for any purpose is hereby granted without fee, provided that the above
#   copyright notice appears in all copies and that both that copyright notice and
#   this permission notice appear in supporting documentation. Kevin Atkinson makes
#   no representations about the suitability of this array for any purpose. It is
#   provided "as is" without express or implied warranty.
#
# Regenerate with: grep -x '[a-z]\{5,\}' /usr/share/dict/scowl/english-words.10
_COMMON_WORDS_TEXT: Final = """
abilities ability about above absence absolute absolutely abuse academic accept acceptable
accepted accepting accepts access accessible accident accidental accidentally accord
accorded according accordingly accords account accounts accuracy accurate achieve achieved
achieves achieving acquire acquired acquires acquiring across acted acting action actions
active activities activity actual actually added adding addition additional address
addressed addresses addressing adequate adjust administration admit admits admitted
admittedly admitting adopt adopted adopting adopts advance advanced advances advancing
advantage advantages advertise advertised advertises advertising advice advise advised
advises advising affair affairs affect affected affecting affects afford afraid after
afternoon afterwards again against agency agree agreed agreeing agreement agrees ahead aimed
aiming alarm album algorithm algorithms alias alive allow allowed allowing allows almost
alone along already alter altered altering alternate alternative alternatively alternatives
alters although altogether always ambiguous amount amounts amuse amused amuses amusing
analogue analysis ancient angle angry animal announce announcement annoy annoyed annoying
annoys annual anonymous another answer answered answering answers anybody anyone anyplace
anything anyway anywhere apart apologies apology apparent apparently appeal appear
appearance appeared appearing appears apple application applications applied applies apply
applying appreciate appreciated appreciates appreciating approach appropriate approval
approve approved approves approving arbitrary areas argue argued argues arguing argument
arguments arise arises arithmetic around arrange arranged arrangement arrangements arranges
arranging arrive arrived arrives arriving article articles artificial artist aside asked
asking asleep aspect aspects assembler assembly assistant associate associated associates
associating association assume assumed assumes assuming assumption assure assured assures
assuring atmosphere attach attached attaching attack attempt attempted attempting attempts
attend attended attending attends attention attitude attract attractive audience author
authorities authority authors automatic automatically automobile autumn available average
avoid avoided avoiding avoids awake award aware awful awkward backed background backing
backs badly balance based bases basic basically basing basis battery bearing bears beautiful
became because become becomes becoming before beforehand began begin beginning begins begun
behalf behave behind being believe believed believes believing belong belongs below benefit
benefits besides better betting between beyond bidding bigger biggest binary binding binds
biology bites biting bitten bizarre black blame blank block board boards bodies books borne
borrow borrowed borrowing borrows bother bothered bothering bothers bottle bottom bought
bound boxes bracket brackets branch branches brand breach break breaking breaks bridge brief
briefly bright bring bringing brings broadcast broadcasting broadcasts broke broken brother
brought brown bucket budget buffer build building buildings builds built bulletin buried
buries burying business button buying bytes calculate calculation calculations called
calling calls campaign candidate cannot capable capacity capital captain cardboard cards
careful carefully cares carried carries carry carrying cases cassette catch catches catching
categories category caught cause caused causes causing cease central century certain
certainly chain chair chairman chance chances change changed changes changing channel
channels chaos chapter character characters charge charged charges charging chars cheap
cheaper cheapest check checked checking checks chemical child children chips choice choose
chooses choosing chose chosen church circle circuit circulation circumstance circumstances
citizen claim claimed claiming claims clarify class classes clean clear cleared clearer
clearest clearing clearly clears clever clock close closed closely closer closes closest
closing coded codes coding coffee collapse collect collected collecting collection collects
college colleges column combination combinations combine combined combines combining comes
coming command commands comment commented commenting comments commercial commission
commitment committee common commonly communicate communication communications community
company comparable comparatively compare compared compares comparing comparison
compatibility compatible competition compiler complain complained complaining complains
complaint complaints complete completed completely completes completing complex complexity
complicate complicated complicates complicating component components compose composed
composes composing composition comprehensive compromise compulsory compute computed computer
computers computes computing concept concern concerned concerning concerns conclusion
concrete condition conditions conference confident confirm confirmed confirming confirms
confuse confused confuses confusing confusion connect connected connecting connection
connections connects consequence consequences consequently consider considerable
considerably consideration considered considering considers consist consistency consistent
consists constant constraint constraints construct consumption contact contain contained
containing contains content contents context continually continuation continue continued
continues continuing continuous continuously contract contrary contrast contribute
contribution contributions control controlled controlling controls convenient convention
conventional conventions conversation convert convince convinced convinces convincing copied
copies copying corner corners correct corrected correcting correction correctly corrects
corrupt corrupted corrupting corrupts costing costs could council count counted counter
counting country counts county couple course courses court cover covered covering covers
crash crashed crashes crashing crazy create created creates creating creation creature
credit crisis crisp crisps critical criticism cross culture cumming curious current
currently cursor customer cutting cycle cycles daily damage damaged damages damaging danger
dangerous database dated dates dating datum dealing deals dealt death debate decade decent
decide decided decides deciding decision decisions declare declared declares declaring
decrease dedicate dedicated dedicates dedicating deduce deemed deeming deems deeply default
define defined defines defining definite definitely definition definitions definitive degree
degrees delay delete deleted deletes deleting deliberate deliberately deliver delivered
delivering delivers delivery demand demands democratic demonstrate demonstration department
depend depended depending depends depth derive derived derives deriving describe described
describes describing description descriptions design designed designing designs desirable
desire desired desires desiring desperate despite destroy destroyed destroying destroys
detail detailed detailing details detect detected detecting detects determine determined
determines determining develop developed developing development develops device devices
devote devoted devotes devoting dictionary differ difference differences different
differently difficult difficulties difficulty digit digital digits dinner direct directed
directing direction directions directly director directory directs dirty disadvantage
disagree disappear disappeared disappearing disappears disaster discipline discount
discourage discouraged discourages discouraging discover discovered discovering discovers
discs discuss discussed discusses discussing discussion discussions dislike display
displayed displaying displays distance distant distinct distinction distinctly distinguish
distribute distributed distributes distributing distribution district disturb disturbed
disturbing disturbs ditto divide divided divides dividing division document documentation
documented documenting documents doing dollar domain doors double doubt doubtful dozen
dozens drastic drawing drawn draws dream drink drive driven driver drivers drives driving
dropped dropping drops drove dubious during dying earlier earliest early earth easier
easiest easily eaten eating economic economy edited editing edition editor editors edits
education educational effect effective effectively effects efficient effort efforts eight
either elect elected electing election electric electronic electronics elects element
elements elevator elsewhere embarrass embarrassed embarrasses embarrassing emergency
emphasis employee empty enable enables encounter encountered encountering encounters
encourage encouraged encourages encouraging ended ending enemy engineer engineered
engineering engineers enjoy enormous enough ensure ensured ensures ensuring enter entered
entering enters entire entirely entitle entitled entitles entitling entity entrance entries
entry environment equal equally equipment equivalent eraser error errors escape especially
essential essentially establish established establishes establishing establishment estimate
evened evening evenings evens event events eventually every everybody everyone everything
everywhere evidence exact exactly examine examined examines examining example examples
excellent except exception exceptions excess excessive exchange exclude excluded excludes
excluding exclusive excuse execute executed executes executing exercise exist existed
existence existing exists expand expanded expanding expands expansion expect expected
expecting expects expense expensive experience experienced experiences experiencing
experiment experimental experiments expert experts explain explained explaining explains
explanation explicit express expressed expresses expressing expression extend extended
extending extends extension extensive extent external extra extract extreme extremely
facilities facility factor factors facts failed failing fails failure fairly faith fallen
falling falls false familiar family famous fancy farther farthest fashion faster fastest
fatal father fault faults feasible feature features federal feedback feeding feeds feeling
feels fewer fewest field fields fight figure figures filed files filing filled filling fills
final finally financial finding finds finger fingers finish finished finishes finishing
finite firmly first firstly fiscal fishes fitted fitting fixed fixes fixing flash flashed
flashes flashing flexible flied flies flight float floated floating floats floor flown
flying folks follow followed following follows force forced forces forcing foreign forever
forget forgets forgetting forgot forgotten formal format formed former forming forms forth
forthcoming fortunately fortune forward found fourth fraction frame freedom freely french
frequent frequently fresh friend friendly friends fries front fully function functions
fundamental fundamentally funds funny further furthest future gained gaining gains games
garbage garden gasoline gather general generally generate generated generates generating
generation genuine getting given gives giving glass global going goods gotten government
governor gradually graduate grand grands grant granted granting grants graph graphic
graphics grateful grave great greater greatest greatly green grind grinding grinds gross
grosses ground grounds group groups growing grown grows growth guarantee guaranteed
guaranteeing guarantees guard guess guessed guesses guessing guide habit habits handed
handing handle handled handles handling hands handy hanged hanging hangs happen happened
happening happens happily happy harder hardest hardly hardware harmful harmless having
headed header heading heads health healthy heard hearing hears heart heavily heavy hello
helped helpful helping helps hence hereby herself hidden hides hiding higher highest highly
himself hints historical history hitting holding holds holes holiday holidays honest hoped
hopefully hopes hoping horrible horse horses hospital hotel hours house however human
hundred hundreds hurry husband ideal ideas identical identify identity ignore ignored
ignores ignoring illegal image images imagination imagine immediate immediately impact
implement implemented implementing implements implication implications implied implies imply
implying importance important importantly impose imposed imposes imposing impossible
impression improve improved improvement improvements improves improving inability inadequate
inches incident incidentally incline inclined inclines inclining include included includes
including income incompatible incomplete inconsistent inconvenience incorrect increase
increased increases increasing indeed independent independently index indicate indicates
indication individual individually individuals industrial industry inevitably inferior
infinite influence inform information informed informing informs initial initially initials
inner innocent input inputs inputted inputting insert inserted inserting inserts inside
insist insisted insisting insists install installed installing installs instance instant
instantly instead institution institutions instruction instructions insurance integer
integers integral intelligence intelligent intend intended intending intends intention
interact interest interested interesting interests interface internal international
interpret interpretation interpreted interpreting interprets interval intervals intervention
introduce introduced introduces introducing introduction invalid invariably invent invented
inventing invents investigate invisible invitation invite invited invites inviting involve
involved involves involving irrelevant irritate irritated irritates irritating isolate
isolated isolates isolating issue issued issues issuing items itself joined joining joins
joint judge jumps justification justified justifies justify justifying keeping keeps
keyboard killed killing kills kindly kinds knock knocked knocking knocks knowing knowledge
known knows label labels laboratory lacked lacking lacks ladies landed landing lands
language languages large largely larger largest lasts later latest latter layout leach
leaded leader leading leads learn learning learns least leave leaved leaves leaving lecture
lectures legal legally length lesser lesson lessons letter letters letting level levels
liable libraries library lifetime light lights liked likely likes likewise liking limit
limited limiting limits linear lines linked linking links listed listen listing lists
literally literature little lived lives living loaded loading loads local location locations
locked locking locks logged logging logic logical longer longest looked looking looks loose
lorries lorry loses losing loudly lower lowest lucky lunch lying machine machines magic
magnetic magnitude mainly maintain maintained maintaining maintains major majority makes
making manage managed manager manages managing manipulation manner manual manuals march
marked market marking marks marriage marry massive master match matches material materials
mathematical mathematics matter matters maximum maybe meaning meaningful meaningless
meanings means meant measure measured measures measuring mechanic mechanics mechanism media
medical medium mediums meeting meetings meets member members membership memory mention
mentioned mentioning mentions merely merit merits message messages messy metal method
methods middle midnight might miles military million millions minded minding minds minimal
minimum minor minority minute minutes mislead misleading misleads misled missed misses
missing mistake mistaken mistakes mistaking mistook misunderstand misunderstanding
misunderstands misunderstood misuse mixed mixes mixing model models modern modified modifies
modify modifying moment money monitor month months moral morning mornings mostly mother
motion mouth moved movement movements moves movie moving multiple music myself mysterious
naive named namely names naming nasty nation national natural naturally nature naughty
nearby nearer nearest nearly necessarily necessary necessity needed needing needs negative
neither nervous network networks never nevertheless nicer nicest night nobody noise noisy
nonsense normal normally north noted notes nothing notice noticed notices noticing notify
noting novel nowadays nowhere number numbers numbest numerical numerous object objected
objecting objection objections objects obscure observation observe observed observes
observing obtain obtained obtaining obtains obvious obviously occasion occasional
occasionally occasions occupied occupies occupy occupying occur occurred occurring occurs
offer offered offering offers office officer offices official often older oldest omits
omitted omitting opened opening opens operate operated operates operating operation
operations operator operators opinion opinions opportunities opportunity oppose opposed
opposes opposing opposite opposition option optional options order ordered ordering orders
ordinary origin original originally other others otherwise ought ourselves outer output
outside overall owing owner owners package packages packet pages painful pairs paper papers
paragraph parallel parent partial partially particular particularly parties partly parts
party passed passes passing patch patient pattern patterns pause payed paying peace peculiar
people perfect perfectly perform performance performed performing performs perhaps period
permanent permanently permission permit permits permitted permitting person personal
personally persons persuade persuaded persuades persuading petrol phase phenomenon
philosophy phone phrase phrases physical picked picking picks picture pictures piece pieces
place placed places placing plain plane planet planned planning plans plant plastic played
playing plays pleasant please pleased pleases pleasing plenty plots pocket point pointed
pointing pointless points police policies policy political popular population position
positions positive possibilities possibility possible possibly posted posting postmaster
posts potential potentially pound pounds power powerful powers practical practically
practice precise precisely prefer preferable preferably preference preferred preferring
prefers preparation prepare prepared prepares preparing presence present presented
presenting presents preserve president press pressed presses pressing pressure presumably
presume pretty prevent prevented preventing prevents previous previously price prices
primary prime primitive principle principles print printed printer printers printing
printout prints prior private probably problem problems procedure process processed
processes processing processor processors produce produced produces producing product
production products professional program programmed programmer programmers programming
programs progress project projects promise promised promises promising prompt promptly prone
proof proper properly properties property proportion proposal propose proposed proposes
proposing prospect protect protected protecting protection protects protest prove proved
proves provide provided provides providing proving public publication publicity publicly
publish published publishes publishing pulled pulling pulls punctuation puncture purchase
purely purpose purposes pushed pushes pushing putted putting putts qualified qualifies
qualify qualifying quality quantities quantity quarter question questions queue quick
quicker quickest quickly quiet quietly quite quits quitting quote quoted quotes quoting
radio raise raised raises raising random randomly range rapid rapidly rarely rates rather
reach reached reaches reaching react reaction readable reader readers readily reading reads
ready reality really reason reasonable reasonably reasons recall receive received receives
receiving recent recently reception recognition recommend recommendation recommended
recommending recommends record recorded recording records recover recovered recovering
recovers reduce reduced reduces reducing reduction redundant refer reference references
referred referring refers reflect reflected reflecting reflection reflects refuse refused
refuses refusing regard regarded regarding regardless regards region register registered
registering registers regret regular regularly regulation regulations reject rejected
rejecting rejects relate related relates relating relation relationship relative relatively
release released releases releasing relevance relevant reliable religion religious reluctant
remain remained remaining remains remark remarks remember remembered remembering remembers
remind reminded reminding reminds remote remotely removal remove removed removes removing
repair repeat repeated repeatedly repeating repeats replace replaced replacement replaces
replacing replied replies reply replying report reported reporting reports represent
representation representative represented representing represents reproduce request
requested requesting requests require required requirement requirements requires requiring
research reserve reserved reserves reserving resident resolution resort resource resources
respect respectively respects respond response responses responsibility responsible restart
restore restored restores restoring restrict restricted restricting restricts result
resulted resulting results retain return returned returning returns reveal revealed
revealing reveals reverse review rewrite ridding ridiculous right rights river rooms rough
roughly round route routine rubber rubbish rules running sadly safely safer safest safety
saint sales sample satisfied satisfies satisfy satisfying saved saves saving saying scale
scene scheme school schools science sciences scientific score scores scrap scratch screen
screens script search searched searches searching season second secondary secondly seconds
secret secretary section sections secure security seeing seeking seeks seemed seeming seems
select selected selecting selection selects selling sells seminar sending sends senior sense
sensible sensibly sensitive sentence sentences separate separately sequence sequences serial
series serious seriously serve served server serves service services serving session
sessions setting settle settled settles settling seven several severe severely shall shame
shape share shared shares sharing sharp sheet shelf shell shift shoot shopped shopping shops
short shortage shorter shortest shortly should showed showing shown shows shuts shutting
sides sight signal signals signed significance significant significantly signing signs silly
similar similarly simple simpler simplest simply simultaneous simultaneously since sincerely
single sites sitting situation situations sizes skill skills sleep slight slightly slower
slowest slowly small smaller smallest smile smooth social society software solely solid
solution solutions solve solved solves solving somebody somehow someone someplace something
sometime sometimes somewhat somewhere sooner soonest sophisticate sophisticated
sophisticates sophisticating sorry sorted sorting sorts sought sound sounded sounding sounds
source sources south southern space spaces spare speak speaker speakers speaking speaks
special specially specific specifically specified specifies specify specifying speech speed
spell spelling spells spend spending spends spent spirit spite split splits splitting spoke
spoken spots spotted spotting spread spreading spreads spring square stable staff stage
stages stand standard standards standing stands start started starting starts state stated
statement statements states stating station stations statistic statistical statistics status
stayed staying stays steal stick sticking sticks still stock stone stones stood stopped
stopping stops storage store stored stores storing story straight straightforward strange
strategy stream street strength strict strictly strike strikes striking string strings
strong strongly struck structure structures stuck student students studied studies study
studying stuff stupid style subject subjects submit submits submitted submitting subsequent
subset substantial substitute subtle succeed success successful successfully sudden suddenly
suffer suffered suffering suffers suffice sufficient sufficiently sugar suggest suggested
suggesting suggestion suggestions suggests suitable suitably suited suiting suits summary
summer superior supervisor supplied supplies supply supplying support supported supporting
supports suppose supposed supposedly supposes supposing surely surface surprise surprised
surprises surprising survey survive survived survives surviving suspect suspected suspecting
suspects suspend suspended suspending suspends suspicion switch switched switches switching
symbol symbols syntax system systems table tables taken takes taking talked talking talks
tanks tapes target tasks taste taught teach teacher teaches teaching technical technique
techniques technology tedious teeth telephone television telling tells temperature
temporarily temporary tendency tends terminal terminals terminology terms terribly tested
testing tests thank thanks their themselves theoretical theory there thereby therefore these
thing things think thinking thinks third thoroughly those though thought thoughts thousand
thousands threat three threw through throughout throw throwing thrown throws ticket tickets
tight timed times timing title titles today together token tomorrow tonight tooth topic
topics total totally touch touched touches touching toward towards trace track tracks
traditional traffic train trained training trains transfer transferred transferring
transfers translate translated translates translating translation transport trapped trapping
traps trash travel treat treated treating treatment treats trees trial trick tried tries
trivial trouble truck trucks truly trunk trust trusted trusting trusts truth trying turned
turning turns twelve twenty twice tying typed types typical typing ultimate ultimately
unable unacceptable unaware uncertain unclear under undergraduate undergraduates underneath
understand understanding understands understood unfortunate unfortunately unhappy uniform
unique unite units universal universities university unknown unless unlike unlikely
unlimited unnecessarily unnecessary unpleasant unreasonable unsuitable until unusual
unwanted update updated updates updating upper upset upsets upsetting upwards usage useful
useless users using usual usually utility utterly vacation vacations vague vaguely valid
validity valuable value values variable variables variation varied varies variety various
varying vastly vector version versions video views virtually virtue visible vision visit
vital voice volume votes waited waiting waits walked walking walks walls wanted wanting
wants warned warning warns waste wasted wastes wasting watch watched watches watching water
weapon wearing wears weather weekend weeks weight weird welcome welcomed welcomes welcoming
western whatever whatsoever wheel wheels whenever where whereas whereby wherever whether
which while whilst white whoever whole whose widely wider widespread widest willed willing
wills window windows winning winter wished wishes wishing withdraw within without woman
women wonder wondered wonderful wondering wonders wooden worded wording words worked worker
workers working works world worried worries worry worrying worse worst worth worthwhile
worthy would write writer writes writing written wrong wrote years yellow yesterday young
yours yourself
"""
COMMON_WORDS: Final = frozenset(_COMMON_WORDS_TEXT.split())

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
