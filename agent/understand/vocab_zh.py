"""Chinese cue words for the rule parser (same shape as ``vocab_en``).

Chinese has no spaces, so cues are substrings or short regular expressions; names written in
Latin letters inside Chinese text ("ml-team这周的利用率") are found by the parser's token scan,
not here. Both vocabularies are applied to every question, so mixed-language questions work.
"""

from __future__ import annotations

_KIND_WORDS = "用户|人|命名空间|团队|项目|任务|作业|工作负载|负载|Pod|pod"
_NUM = "[0-9一二两三四五六七八九十]+"
_TIME_UNITS = "天|日|周|星期|礼拜|小时|钟头|个?月"

INTENT_CUES: tuple[tuple[str, str, float], ...] = (
    # trend
    ("趋势|走势", "trend", 1.5),
    ("涨还是跌|跌还是涨|升还是降|降还是升|上升还是下降|下降还是上升|变好还是变差", "trend", 2.5),
    ("变化|变动", "trend", 0.6),
    ("怎么样|怎样|如何|咋样", "trend", 1.0),
    ("表现", "trend", 1.0),
    ("历史", "trend", 1.0),
    ("曲线|图表|趋势图|折线", "trend", 1.0),
    ("每天|每日|每小时|逐日|逐小时|按天|按小时", "trend", 0.8),
    ("随时间", "trend", 1.2),
    ("波动", "trend", 1.0),
    ("概况|概览|统计|汇总|总结|报告", "trend", 0.5),
    ("平均", "trend", 0.5),
    ("看看|看一下|查看|查一下|查询|给我看", "trend", 0.3),
    # anomalies
    ("异常|反常|不正常|不寻常|离群|奇怪", "anomalies", 2.5),
    # a sudden rise is unusual, but "怎么突然升高了" asks why (drill-down)
    ("突增|突降|突然(?:升高|下降|增加|减少)", "anomalies", 1.2),
    # compare
    ("对比|比较|比一比|比一下", "compare", 2.0),
    ("相比|相较|比起|较之", "compare", 1.5),
    ("环比|同比", "compare", 1.5),
    ("差异|区别|差别|差距|不同", "compare", 1.2),
    ("(?:跟|和|与|同)[^，。？！,?!]{1,12}比(?!例|率|较)", "compare", 1.0),
    ("哪个[^，。？！,?!]{0,6}(?:更)?(?:高|低|好|差|多|少)", "compare", 0.8),
    # drilldown
    ("为什么|为何|怎么回事|咋回事|为啥", "drilldown", 2.0),
    ("原因|缘故", "drilldown", 2.0),
    ("导致|造成|引起|归因|根因|罪魁", "drilldown", 1.5),
    ("影响最大|影响最多|贡献最大", "drilldown", 2.0),
    ("是什么让|什么让", "drilldown", 1.0),
    ("怎么[^，。？！,?!]{0,4}(?:下降|降低|升高|上升|变|掉|涨|少|多|低|高)", "drilldown", 1.5),
    ("下降|降低|减少|变低|低了|下滑|掉了|降了|少了|跌|下跌|骤降", "drilldown", 0.8),
    ("上升|升高|增加|变高|涨|高了|飙升", "drilldown", 0.5),
    ("这么低|这么高|这么少|太低|太高|偏低", "drilldown", 0.8),
    ("分析", "drilldown", 0.5),
    # realtime
    ("现在|当前|目前|此刻|此时|眼下|这会儿|当下", "realtime", 1.5),
    ("实时", "realtime", 2.0),
    ("正在", "realtime", 1.2),
    ("最新", "realtime", 1.0),
    ("快照", "realtime", 1.5),
    # freshness: how recent the data is
    ("(?:数据|统计)[^，。？！,?!]{0,6}(?:更新|刷新|同步|采集)|(?:最后|最近一次|上次)(?:的)?(?:更新|刷新|同步|采集)|"
     "更新(?:到|至)(?:什么时候|何时|哪天|几点|哪里)|更新时间|新鲜|过期|滞后|延迟多久", "freshness", 2.5),
    ("数据[^，。？！,?!]{0,4}(?:是|为)?最新|最新(?:的)?数据|数据(?:到|截至|截止到?)(?:什么时候|何时|哪天|几点)",
     "freshness", 2.5),
    ("在用|在使用|使用中|占用中|在跑", "realtime", 0.8),
    ("多少(?:张|块|个)?(?:GPU|gpu|卡|显卡)(?!时|小时)|几张|几块", "realtime", 0.6),
    ("状态", "realtime", 0.6),
    ("空闲的?(?:GPU|gpu|卡)", "realtime", 0.8),
    ("还(?:有|剩)多少", "realtime", 1.0),  # "还有多少空闲的卡": what is free now
    ("还有多少|还剩|剩余|剩下", "realtime", 1.2),
    # ranking
    ("最多|最少|最高|最低|最大|最小|最差|最好|最浪费|最闲", "ranking", 1.5),
    ("排名|排行|排序|榜", "ranking", 2.0),
    (f"前{_NUM}(?!\\s*(?:{_TIME_UNITS}))", "ranking", 1.0),
    ("浪费", "ranking", 1.5),
    ("闲置", "ranking", 1.5),
    ("空闲", "ranking", 1.0),
    ("占着|霸占|不用|没怎么用|不干活|没在用|空转|摸鱼|却不|但不", "ranking", 1.0),
    (f"哪些(?:{_KIND_WORDS})|哪个(?:{_KIND_WORDS})|哪位", "ranking", 0.8),
    ("谁", "ranking", 0.8),
    ("每个(?:命名空间|用户|任务|团队)", "ranking", 0.8),
    ("按(?:用户|命名空间|任务|团队|作业|工作负载)|分布", "ranking", 1.5),
    ("利用率很低|利用率低", "ranking", 0.5),
    # cost
    ("花了多少|多少钱|花费|费用|成本|开销|花销|账单|花了|价格|钱", "cost", 3.0),
    # recommend
    ("节省|节约|省钱|省卡|建议|优化|缩容|降本", "recommend", 3.5),
    # discovery
    ("有哪些|有什么", "discovery", 1.5),
    ("都有", "discovery", 1.0),
    ("列出|列举|罗列|清单|列表|一览", "discovery", 2.0),
    # "所有集群…的利用率" names the scope of a figure, not a request for the list
    ("^(?!.*(?:利用率|分配率|小时|卡时|用了|用卡|使用|占用|浪费|闲置|空闲)).*?所有的?"
     "(?:集群|命名空间|用户|任务|标签|作业)", "discovery", 1.0),
    ("哪些(?:集群|标签|维度|键)", "discovery", 1.0),
    ("可以按|按哪些", "discovery", 1.0),
    ("过滤|筛选|分组", "discovery", 1.2),
    ("可用的?", "discovery", 0.8),
    ("多少个(?:集群|命名空间|用户|团队)", "discovery", 1.0),
    ("存在", "discovery", 0.8),
    # help
    ("帮助|使用说明|用法|说明书", "help", 2.0),
    ("你能做什么|你会什么|你可以做什么|能做什么|能干什么|能问什么|可以问什么|能回答什么", "help", 3.0),
    ("怎么用|如何使用|怎么使用|怎样使用", "help", 2.5),
    (r"^[\s,.!?，。！？]*(?:你好|您好|嗨|哈喽|在吗)[\s,.!?，。！？]*$", "help", 2.5),
    ("你是谁", "help", 2.5),
)

FOLLOW_UP = r"^[\s,.!?，。！？]*(?:(?:谢谢|好的|好)[\s,.!?，。！？]*)?(?:那么?|换成|改成|再看|还有|如果是|那如果)|呢[\s,.!?，。！？]*$"

ALLOCATION = "分配"
ALLOCATION_RATE = "分配率"
SCOPE_WORDS = "整个集群|全部集群|所有集群|集群整体|整体|总共|一共|全集群"
METRIC_WORDS = "利用率|使用率|使用|用量|分配|GPU|gpu|卡|算力|资源|占用|用了|用得|时长"

# a word written right before or after a name ("命名空间ml-team", "gpu-east集群")
MARKERS: tuple[tuple[str, str], ...] = (
    ("命名空间", "namespace"), ("名字空间", "namespace"), ("名称空间", "namespace"),
    ("团队", "namespace"), ("项目", "namespace"), ("小组", "namespace"), ("组", "namespace"),
    ("集群", "cluster"),
    ("用户", "user"), ("使用者", "user"),
    ("工作负载", "workload"), ("训练任务", "workload"), ("任务", "workload"), ("作业", "workload"),
    ("负载", "workload"),
)
# fillers allowed between a name and a following marker ("research这个命名空间")
MARKER_FILLERS = ("这个", "那个", "这一", "该")

MISSING = "(?:某个|某一个|某|一个|指定的?|特定的?|单个)\\s*(命名空间|用户|任务|集群|团队)"
MISSING_KIND = {"命名空间": "namespace", "团队": "namespace", "用户": "user", "任务": "workload",
                "集群": "cluster"}

KIND_NOUNS: tuple[tuple[str, str], ...] = (
    ("值", "label_values"),
    ("标签|维度|注解|键|过滤|筛选|分组", "label_keys"),
    ("集群", "cluster"),
    ("命名空间|团队|项目|名字空间", "namespace"),
    ("用户|谁|人员|使用者|哪位", "user"),
    ("任务|作业|工作负载|负载|[Pp]od", "workload"),
)
DISCOVERY_CUES = "有哪些|有什么|列出|列举|所有|哪些|都有|可用|多少个"

RANKING_BY: tuple[tuple[str, str], ...] = (
    ("浪费|闲置|空闲|占着|霸占|不用|没怎么用|利用率很低|不干活|没在用|空转|摸鱼|却不|但不", "idle"),
    ("利用率最低|利用率最差|效率最低|最低|最差", "utilization_low"),
    ("利用率最高|效率最高|利用率最好|最高", "utilization_high"),
    ("GPU时长|GPU小时|gpu时长|gpu小时|卡时|用量|最多|最大|占用", "gpu_hours"),
)
LIMIT = (f"前\\s*({_NUM})\\s*(?:个|名|位)?(?!\\s*(?:{_TIME_UNITS}))|"
         f"({_NUM})\\s*(?:个|名|位)\\s*(?:{_KIND_WORDS})")

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
          "七": 7, "八": 8, "九": 9}
WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
            "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}


def cn_number(text: str) -> int | None:
    """"7" / "七" / "十" / "十五" / "二十四" / "两" -> int; None when it is not a number."""
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        t = DIGITS.get(tens, None) if tens else 1
        o = DIGITS.get(ones, None) if ones else 0
        if t is None or o is None:
            return None
        return t * 10 + o
    if all(c in DIGITS for c in text):
        value = 0
        for c in text:
            value = value * 10 + DIGITS[c]
        return value
    return None

# out of scope (see vocab_en.OUT_OF_SCOPE)
OUT_OF_SCOPE = r"天气|下雨|下雪|气温|写一首|写首|诗|笑话|讲个故事|菜谱|首都|kubectl|怎么查看pod|pod日志|股价|翻译"
COST_IDLE = "空闲|闲置|浪费|没用|不用"
