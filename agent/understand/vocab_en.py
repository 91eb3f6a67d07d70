"""English cue words for the rule parser: weighted regular expressions, not sentences.

Every cue is searched on the lower-cased question (periods and ``key=value`` labels already
blanked out) and counts once. Weights say how strongly a cue points at an intent: ~2 for words
that settle it on their own ("compare", "why", "right now"), ~1 for clear but shareable cues
("most", "history"), ≤ 0.8 for hints that only tip a balance ("lower", "in use"). The parser
sums them per intent, so word order and extra words do not matter.
"""

from __future__ import annotations

# (pattern, intent, weight)
INTENT_CUES: tuple[tuple[str, str, float], ...] = (
    # trend: a figure over a period
    (r"\btrend\w*", "trend", 1.5),
    # "going up or down?" asks for the direction over time, not why it moved
    (r"\b(?:up or down|down or up|rising or falling|falling or rising|better or worse)\b", "trend", 2.5),
    # ... unless "than" names the other side: "better or worse than last week" compares
    (r"\b(?:better or worse|worse or better)\s+than\b", "compare", 2.0),
    (r"\bover time\b", "trend", 1.2),
    (r"\bhistor(?:y|ical)\b", "trend", 1.0),
    (r"\bhow\b[^?.!]{0,60}\b(?:doing|going|looking|looked|been|performing|performed|trending|"
     r"trended|evolv\w*|chang\w*|behav\w*|develop\w*|fared|fare)\b", "trend", 1.2),
    (r"\bhow(?:'s| is| are| was| were)\b[^?.!]{0,40}\blook\b", "trend", 1.2),
    (r"\bhow (?:idle|busy|utili[sz]ed|loaded|full|efficient|well)\b", "trend", 1.5),
    (r"\bhow did\b[^?.!]{0,40}\b(?:do|perform)\b", "trend", 1.2),
    (r"\b(?:plot|chart|graph|curve|timeline|time series|sparkline)\b", "trend", 1.0),
    (r"\b(?:daily|hourly|day by day|per day|per hour|each day|every day)\b", "trend", 0.8),
    (r"\bevolv\w*|\bprogress\w*", "trend", 0.8),
    (r"\b(?:overview|summary|summari[sz]e|stats|statistics|report)\b", "trend", 0.5),
    (r"\b(?:average|avg|mean)\b", "trend", 0.5),
    (r"\bhow much\b|\bhow many gpu[- ]?hours\b", "trend", 0.5),
    (r"\bbusy\b", "trend", 0.5),
    (r"\b(?:show|tell|give|get|see|view|display|check|look)\b", "trend", 0.3),
    # anomalies: hours that leave the usual weekly pattern
    (r"\banomal(?:y|ies|ous)\b|\bunusual\b|\babnormal\b|\bout of the ordinary\b|"
     r"\boutliers?\b|\bunexpected\b|\bodd\b|\bweird\b|\bstrange\b",
     "anomalies", 2.5),
    # a spike is unusual, but "the reason for the spike" asks why it happened (drill-down)
    (r"\bspikes?\b", "anomalies", 1.2),
    # compare: two periods or two entities side by side
    (r"\bcompar\w*", "compare", 2.0),
    (r"\bvs\b|\bversus\b", "compare", 2.0),
    (r"\bbetween\b[^?.!]*\band\b", "compare", 0.8),
    (r"\bdiffer\w*", "compare", 1.2),
    (r"\bagainst\b", "compare", 0.8),
    (r"\b(?:week|month|day)[- ]over[- ](?:week|month|day)\b|\bwow\b", "compare", 1.5),
    (r"\b(?:better|worse|higher|lower|more|less|bigger|smaller)\b[^?.!]*\bthan\b", "compare", 0.8),
    (r"\bimprov\w*|\bworsen\w*|\bgot (?:better|worse)\b", "compare", 1.0),
    (r"\brelative to\b|\bin comparison\b", "compare", 1.0),
    (r"\bside by side\b|\bstack up\b|\bhead to head\b", "compare", 1.5),
    (r"\bwhich (?:one|of (?:them|the two)) (?:is|was|has|had)\b", "compare", 0.8),
    # drilldown: why a figure changed, who caused it
    (r"\bwhy\b|\bhow come\b|\bwhy's\b", "drilldown", 2.0),
    (r"\breasons?\b", "drilldown", 1.5),
    (r"\bcaus\w*", "drilldown", 1.5),
    (r"\broot[- ]cause\b", "drilldown", 1.0),
    (r"\bwhat (?:happened|changed|made|drove|is behind)\b|\bwhat's behind\b", "drilldown", 1.5),
    # "what changed … between A and B" asks what moved inside, not for the two figures
    (r"\bwhat (?:changed|moved)\b[^?.!]{0,40}\bbetween\b", "drilldown", 1.5),
    (r"\bwhat's (?:up|going on) with\b|\bwhat is (?:up|going on) with\b", "drilldown", 1.0),
    (r"\bexplain\w*", "drilldown", 1.2),
    (r"\bdrill\w*", "drilldown", 2.0),
    (r"\bbreak\w* ?down\b", "drilldown", 1.0),
    (r"\bcontribut\w*|\bresponsible\b|\bto blame\b|\bbehind (?:the|this|it)\b", "drilldown", 1.2),
    (r"\b(?:drop\w*|decreas\w*|declin\w*|fell|fall\w*|went down|go(?:es|ne)? down|dipp?\w*|"
     r"lower\w*|tank\w*|plummet\w*|shr[ai]nk\w*|shrunk|reduc\w*|degrad\w*|worse|down)\b",
     "drilldown", 0.8),
    (r"\b(?:increas\w*|rise|rising|risen|rose|went up|go(?:es|ne)? up|spik\w*|jump\w*|grew|"
     r"surg\w*)\b", "drilldown", 0.5),
    (r"\bso (?:low|high|idle|bad|poor)\b|\btoo (?:low|high)\b", "drilldown", 0.8),
    # realtime: the latest snapshot
    (r"\bright now\b|\bat the moment\b|\bat present\b|\bpresently\b|\bas of now\b|"
     r"\bat this (?:moment|time)\b", "realtime", 2.0),
    (r"\bnow\b", "realtime", 1.2),
    (r"\bcurrent(?:ly)?\b", "realtime", 1.5),
    (r"\breal[- ]?time\b|\blive\b", "realtime", 1.5),
    (r"\blatest\b|\bsnapshot\b", "realtime", 1.2),
    (r"\bin use\b|\bbeing used\b", "realtime", 0.8),
    (r"\bhow many gpus\b", "realtime", 0.6),
    (r"\b(?:are|is)\b[^?.!]{0,40}\b(?:using|running|allocated|in use|free|idle)\b", "realtime", 0.6),
    (r"\b(?:free|available|unallocated) gpus?\b|\bgpus? (?:are |is )?(?:free|available)\b",
     "realtime", 1.0),
    (r"\bwhat(?:'s| is) running\b", "realtime", 1.0),
    (r"\b(?:free|spare|available|unallocated|remaining|idle) (?:capacity|gpus?)\b|"
     r"\b(?:capacity|gpus?) (?:is |are )?(?:free|available|left|remaining)\b|\b(?:is|are) free\b|"
     r"\bleft (?:on|in)\b", "realtime", 1.2),
    (r"\bstatus\b", "realtime", 0.6),
    # freshness: how recent the data is (the newest hour of statistics), not a GPU figure
    (r"\bfresh(?:ness)?\b|\bstale(?:ness)?\b|\bup[- ]to[- ]date\b|\bout of date\b|\boutdated\b",
     "freshness", 2.5),
    (r"\b(?:last|latest|most recent(?:ly)?) (?:updated?|refresh\w*|report\w*|ingest\w*|collect\w*|"
     r"written|aggregat\w*)\b|\bupdated last\b", "freshness", 2.5),
    (r"\bhow (?:old|recent|new|current) (?:is|are) (?:the |our |its )?(?:data|stats|statistics|numbers)\b|"
     r"\b(?:newest|oldest) (?:data|hour|stats|statistics|row)\b|\bdata (?:age|lag|delay|latency)\b",
     "freshness", 2.5),
    (r"\bwhen\b[^?.!]{0,50}\b(?:updated?|refreshed|ingested|collected|aggregated|reported|written)\b",
     "freshness", 1.5),
    # ranking: children ordered by a figure
    (r"\btop\b", "ranking", 1.5),
    (r"\bmost\b", "ranking", 1.2),
    (r"\bleast\b", "ranking", 1.0),
    (r"\b(?:highest|lowest|biggest|largest|smallest|heaviest|worst|best|poorest)\b", "ranking", 1.2),
    (r"\brank\w*|\bleaderboard\b|\bsort\w*\b|\border(?:ed)? by\b", "ranking", 2.0),
    (r"\bwast\w*", "ranking", 1.5),
    (r"\bidle\b|\bunused\b|\bunder-?utili[sz]\w*|\bunderused\b", "ranking", 1.0),
    (r"\bwhere (?:did|do|does|is|are|have)\b[^?.!]{0,40}\b(?:go|going|gone|went)\b", "ranking", 1.5),
    (r"\bhog\w*|\beat(?:s|ing)?\b|\bgobbl\w*|\bburn\w*|\boffenders?\b|\bculprits?\b", "ranking", 1.0),
    (r"\b(?:by|per|for each|each|across)[- ](?:users?|namespaces?|workloads?|teams?|jobs?|pods?)\b|"
     r"\bbreak\w* ?down\b[^?.!]{0,30}\bby\b", "ranking", 1.5),
    (r"\bwhich (?:users?|namespaces?|workloads?|jobs?|teams?|projects?|pods?|people|ones)\b",
     "ranking", 0.8),
    (r"\bwho\b", "ranking", 0.8),
    (r"\bhold\w*\b[^?.!]*\bbut\b", "ranking", 1.5),
    (r"\bby (?:idle )?gpu[- ]?hours\b|\bby utili[sz]ation\b", "ranking", 1.0),
    (r"\b(?:users|namespaces|workloads|jobs|teams|pods) (?:with|that|who|which|by)\b", "ranking", 0.6),
    (r"'s (?:workloads|jobs|pods|users)\b|\b(?:workloads|jobs|pods) (?:of|for|from|owned by)\b",
     "ranking", 1.0),
    # cost: money for GPU-hours (agent.prices)
    (r"\bcost\w*|\bspen[dt]\w*|\bmoney\b|\bbill(?:ed|ing)?\b|\bexpens\w*|\bdollars?\b|"
     r"\bpric(?:e|es|ed|ing)\b|\bbudget\b|\bcharg\w*", "cost", 3.0),
    # recommend: where GPUs could be saved (agent.recommendations)
    (r"\bsav(?:e|es|ing|ings)\b|\brecommend\w*|\bsuggest\w*|\boptimi[sz]\w*|\bright[- ]?siz\w*|"
     r"\bcut (?:down|back)\b|\breduce (?:our |the )?(?:gpu|spend|cost)", "recommend", 3.5),
    # discovery: what names exist
    (r"\blist\w*\b|\benumerate\b", "discovery", 1.5),
    (r"\bare there\b|\bexist\w*|\bdo (?:you|we) (?:have|know)\b|\bknow about\b", "discovery", 1.2),
    (r"\bwhat (?:clusters|namespaces|users|workloads|jobs|labels?|label keys|keys|dimensions|"
     r"teams|values|annotations?)\b", "discovery", 1.0),
    (r"\bwhich (?:clusters|label keys|labels|keys|dimensions|annotations)\b", "discovery", 1.0),
    (r"\bwhich (?:namespaces|users|workloads|teams)\b", "discovery", 0.4),
    (r"\bavailable\b", "discovery", 0.8),
    (r"\bfilter\w*\b|\bgroup(?:ed)? by\b|\bslice\b", "discovery", 1.2),
    # "… across all clusters" is a scope (answers.md §4), not a request for the list
    (r"\bshow (?:me )?all\b|(?<!across )(?<!in )(?<!over )(?<!for )(?<!on )"
     r"\ball (?:the )?(?:clusters|namespaces|users|workloads|label keys|labels)\b",
     "discovery", 1.0),
    (r"\bhow many (?:clusters|namespaces|users|workloads|teams)\b", "discovery", 1.0),
    (r"\bnames? of\b", "discovery", 1.0),
    # help
    (r"^[\s.,!?]*(?:help|usage|\?+)[\s.,!?]*$", "help", 3.0),
    (r"\bhelp\b", "help", 1.5),
    (r"\bwhat can (?:you|i) do\b|\bwhat do you do\b|\bwho are you\b|\bwhat are you\b", "help", 3.0),
    (r"\bwhat (?:kind of |sort of |type of )?(?:questions|things) (?:can|could|should) i ask\b|"
     r"\bwhat can i ask\b", "help", 3.0),
    (r"\bhow (?:do|can|should) i (?:use|start|ask)\b|\bhow does (?:this|it) work\b|\bhow to use\b",
     "help", 2.5),
    (r"^[\s.,!?]*(?:hi|hello|hey|yo|howdy|greetings|good (?:morning|afternoon|evening))"
     r"[\s.,!?]*$", "help", 2.5),
    (r"\bexamples?\b|\bcapabilit\w*|\binstructions\b|\bmanual\b", "help", 1.2),
)

# a follow-up fragment: "and last week?", "what about cv-team?"
FOLLOW_UP = (r"^[\s.,!?]*(?:(?:thanks|thank you|thx|ok(?:ay)?|great|cool)[\s.,!?]*)?"
             r"(?:and|what about|how about|same (?:for|but|with)|also|now for|then|"
             r"ok(?:ay)?,? (?:and|what about|now)|instead)\b")

# words that name the metric; "allocation" switches the metric, any of them marks a GPU question
ALLOCATION = r"\balloc\w*|\bocupancy\b|\boccupancy\b"
ALLOCATION_RATE = r"\ballocation rate\b|\ballocation ratio\b"
METRIC_WORDS = (r"\bgpus?\b|\butili[sz]\w*|\butil\b|\busage\b|\bused?\b|\busing\b|\balloc\w*|"
                r"\befficien\w*|\bstats\b|\bcapacity\b|\bload\b|\bgpu[- ]?hours\b|\bcompute\b")

# the question itself says "all clusters": not a bare request
SCOPE_WORDS = (r"\b(?:whole|entire|all(?: the)?|every) clusters?\b|\bthe cluster\b|\boverall\b|"
               r"\bin total\b|\bacross (?:all )?(?:the )?clusters\b|\bcluster[- ]wide\b|\bfleet\b")

# a word right before (or after) a name that says what kind of name it is
MARKERS: dict[str, str] = {
    "namespace": "namespace", "ns": "namespace", "project": "namespace",
    "cluster": "cluster",
    "user": "user", "owner": "user",
    "workload": "workload", "job": "workload", "pod": "workload", "deployment": "workload",
    "pytorchjob": "workload",
}

# "trend for a namespace": the kind is asked for but not given
MISSING = r"\b(?:a|an|some|one|specific|certain|given|particular|single)\s+" \
          r"(namespace|user|workload|job|cluster)\b"

# nouns naming what to rank or list, by kind
KIND_NOUNS: tuple[tuple[str, str], ...] = (
    (r"\blabel values?\b|\bvalues\b", "label_values"),
    (r"\blabel keys?\b|\blabels\b|\bkeys\b|\bdimensions?\b|\bannotations?\b|\bfilter\w*\b|"
     r"\bgroup(?:ed)? by\b", "label_keys"),
    (r"\bclusters?\b", "cluster"),
    (r"\bnamespaces?\b|\bteams?\b|\bprojects?\b", "namespace"),
    (r"\busers?\b|\bwho\b|\bwhom\b|\bpeople\b|\bowners?\b|\bconsumers?\b", "user"),
    (r"\bworkloads?\b|\bjobs?\b|\bpods?\b|\bdeployments?\b|\btasks?\b", "workload"),
)
DISCOVERY_CUES = r"\blist\w*\b|\bwhat\b|\bwhich\b|\ball\b|\bavailable\b|\bhow many\b|\benumerate\b|" \
                 r"\bshow\b|\bnames? of\b"

# how a ranking orders its items; first hit wins, in this order
RANKING_BY: tuple[tuple[str, str], ...] = (
    (r"\bidle\b|\bwast\w*|\bunder-?utili[sz]\w*|\bunderused\b|\bunused\b|"
     r"\bhold\w*\b[^?.!]*\bbut\b|\bwithout (?:really |actually )?using\b|\bnot (?:really )?using\b|"
     r"\bsitting\b", "idle"),
    (r"\b(?:lowest|worst|least|poorest|low)\b\W+(?:\w+\W+){0,2}?(?:utili[sz]\w*|util|efficien\w*)|"
     r"\bleast (?:efficient|utili[sz]ed|used)\b|\blowest first\b|\bascending\b|\bworst\b", "utilization_low"),
    (r"\b(?:highest|best|most|top|high)\b\W+(?:\w+\W+){0,2}?(?:utili[sz]\w*|util|efficien\w*)|"
     r"\bby utili[sz]ation\b|\bmost (?:efficient|utili[sz]ed)\b", "utilization_high"),
    (r"\bgpu[- ]?hours\b|\bmost\b|\bbiggest\b|\blargest\b|\bheav\w*|\bconsum\w*|\bhog\w*|\bgpus\b|"
     r"\beat(?:s|ing)?\b|\bburn\w*",
     "gpu_hours"),
)
LIMIT = (r"\btop[- ]?(\d{1,3}|{words})\b|"
         r"\b(\d{1,3}|{words}) (?:namespaces|users|workloads|jobs|teams|pods)\b|"
         r"\b(\d{1,3}|{words}) (?:most|biggest|largest|worst|best|highest|lowest|top|heaviest|idlest)\b|"
         r"\bfirst (\d{1,3}|{words})\b")

NUMBER_WORDS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "a couple of": 2, "couple of": 2, "a couple": 2,
}
VAGUE_AMOUNTS = ("few", "a few", "several", "some")

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Words that are never names when written without a kind word: cue words, metric words and
# everyday English. Exact real names still win ("research", "inference" are namespaces), but
# these are not fuzzily matched ("training" must not become "ml-training?").
COMMON_WORDS: frozenset[str] = frozenset("""
a about above across after again against ago all allocate allocated allocation allocations also
am an and any anything are around as ask at available average avg away back bad be been before
being below best better between big bigger biggest both break breakdown busy but by can cause
caused causes change changed changes chart check cluster clusters compare compared comparison
consume consumed consumer consumers could count current currently daily data day days decline
declined decrease decreased details did differ difference do does doing done down drop dropped
drops during each either else every everything explain fall fell few filter find first for
free from gave get give go going good got gpu gpus graph group had has have he hello help her
here hey hi high higher highest his history hold holding holds hour hourly hours how however i
idle if in increase increased info information into is it its just keys know label labels last
latest least less let like list little live look looking low lower lowest many me mean metric
metrics might month months more most much my namespace namespaces need new next no not now of
off on one only or other our out over overview past per period please plot previous rank
ranking rate real reason reasons recent recently report right same see seven several should
show since snapshot so some stats status still such summary than thanks thank that the their
them then there these they thing things this those three through time to today top total
trend trending trends two under up usage use used user users using util utilisation
utilization value values versus very vs want was wasted wasting we week weekly weeks well were
what when where which while who why will with within workload workloads would yesterday you
your job jobs pod pods team teams project projects namespace's cluster's table drop select
where insert delete update script alert null true false training train inference serving
tanked tank hogging hog sitting efficient efficiency usage compute capacity load loads job's
running run runs tell thing stuff something anyone someone everyone whole overall entire
dimension dimensions annotation annotations tasks task people person owner owners deployment
deployments nodes node memory card cards across quick quickly kind sort type questions question
please pls thx ok okay yes yeah sure instead also again lately so-far week-over-week wow
real-time realtime side-by-side day-by-day gpu-hours gpu-hour gpu-util mon tue wed thu fri
sat sun morning afternoon evening night tonight hi-res high-level low-level what's who's
it's that's there's let's i'm i'd we're they're isn't aren't doesn't didn't don't won't can't
curious wonder wondering like likely might maybe perhaps percent percentage ratio share number
numbers amount fraction utilized underutilized underused unused busy spare heavy heaviest
light lightest give got make made making happen happened happening going gone went come came
""".split())

# names that are also everyday words and must be typed to count ("user unknown")
GENERIC_NAMES: frozenset[str] = frozenset({"unknown", "(unknown)", "default", "all", "none",
                                           "other", "others", "total", "system"})

# out of scope: not about GPU usage at all, whatever else the question says ("will it rain
# tomorrow" is help, not a future period; "a poem about GPUs" is not a GPU question)
OUT_OF_SCOPE = (r"\b(?:weather|rain(?:ing|s)?|snow(?:ing)?|forecast|sunny|umbrella|poem|poetry|limerick|haiku|"
                r"sonnet|lyrics|joke|riddle|recipe|capital\s+of|kubectl|cordon|uncordon|helm\s+chart|"
                r"who\s+won|stock\s+price|translate)\b")
# "what did idle GPUs cost": the money of idle GPU-hours
COST_IDLE = r"\bidle\b|\bunused\b|\bwast\w*|\bunder-?utili[sz]\w*"
