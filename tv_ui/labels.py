"""Labels for codes shown on the box (services, kinds, states, time windows), marked for
gettext. Translate at render time with `_()`."""

from tv_ui.i18n import N_

SERVICES = {
    "consultation": N_("法律咨询"),
    "legal_aid": N_("法律援助"),
    "mediation": N_("人民调解"),
    "lawyer_mediation": N_("律师调解"),
    "notarisation": N_("公证"),
    "appraisal": N_("司法鉴定"),
    "education": N_("法治宣传"),
    "correction": N_("社区矫正"),
    "arbitration_guide": N_("仲裁指引"),
}

# One plain sentence under each service on the box, for those to whom the names mean little.
SERVICE_HINTS = {
    "consultation": N_("遇到法律上的事，先问问该怎么办"),
    "legal_aid": N_("家里困难请不起律师，国家免费帮您"),
    "mediation": N_("邻里、土地、草场纠纷，帮您调解"),
    "lawyer_mediation": N_("请律师居中说和，双方商量着解决"),
    "notarisation": N_("合同、遗嘱、委托书，办个公证更稳妥"),
    "appraisal": N_("伤情、笔迹、亲子关系，请专业机构鉴定"),
}

# What the matter is about (optional on the box, shown to staff).
TOPICS = {
    "land": N_("土地草场"),
    "family": N_("婚姻家庭"),
    "wages": N_("劳务工钱"),
    "debt": N_("借钱欠款"),
    "other": N_("其他"),
}

# A request's status as the household reads it on the box (staff keep STATES).
HOUSEHOLD_STATES = {
    "submitted": N_("已收到，正在安排人员"),
    "assigned": N_("已安排好工作人员，等电话"),
    "in_progress": N_("正在帮您办"),
    "completed": N_("已经办完了"),
    "unreachable": N_("打了几次电话都没打通"),
    "cancelled": N_("您已取消"),
}

DAY = N_("%(m)s月%(d)s日")
WEEKDAYS = (
    N_("星期一"),
    N_("星期二"),
    N_("星期三"),
    N_("星期四"),
    N_("星期五"),
    N_("星期六"),
    N_("星期日"),
)

POINT_KINDS = {
    "hotline": N_("热线"),
    "city_centre": N_("市级中心"),
    "banner_centre": N_("旗区中心"),
    "township_station": N_("镇街工作站"),
    "village_room": N_("村居工作室"),
}

# The household's own chain in the directory, in plain words.
OWN_LEVELS = {
    "city": N_("市里"),
    "county": N_("本旗（区）"),
    "township": N_("本乡镇（苏木）"),
    "village": N_("本村（嘎查）"),
}

# What a region's list of smaller regions holds, in plain words.
CHILD_LEVELS = {
    "province": N_("选一个盟市"),
    "city": N_("选一个旗（区）"),
    "county": N_("选一个乡镇（苏木）"),
    "township": N_("选一个村（嘎查）"),
}

TIME_WINDOWS = {
    "morning": N_("上午 8:30—12:00"),
    "afternoon": N_("下午 14:30—18:00"),
    "evening": N_("晚上 19:00—21:00"),
}

STATES = {
    "submitted": N_("已提交，等待分派"),
    "assigned": N_("已分派给工作人员"),
    "in_progress": N_("正在办理"),
    "completed": N_("已办结"),
    "unreachable": N_("多次未能联系上"),
    "cancelled": N_("已取消"),
}

LANGUAGES = {"zh": N_("汉语"), "mn": N_("蒙古语")}
# Each TV language named in itself (the home screen's language tile), never translated:
# Mongolian in traditional script, Chinese as 汉语.
SELF_NAMES = {"mn": "\u182e\u1823\u1829\u182d\u1823\u182f", "zh": "\u6c49\u8bed"}

# The rating screen (满意度): what each number key means, and the optional reasons.
SCORES = {
    1: N_("很不满意"),
    2: N_("不满意"),
    3: N_("一般"),
    4: N_("满意"),
    5: N_("很满意"),
}
RATING_REASONS = {
    "fast": N_("回电及时"),
    "clear": N_("讲得清楚"),
    "polite": N_("态度好"),
    "slow": N_("等得太久"),
    "unresolved": N_("问题没解决"),
}

# Messages for error codes shown on the TV.
ERRORS = {
    "launch_missing": N_("启动地址不完整，请从电视首页重新进入。"),
    "launch_bad_signature": N_("启动地址无效，请从电视首页重新进入。"),
    "launch_stale": N_("启动地址已过期，请从电视首页重新进入。"),
    "token_invalid": N_("页面地址无效，请从电视首页重新进入。"),
    "token_expired": N_("页面已过期，请从电视首页重新进入。"),
    "phone_invalid": N_("电话号码不正确，请输入11位手机号或带区号的固定电话。"),
    "service_invalid": N_("请选择要办理的服务。"),
    "service_point_invalid": N_("没有找到所选的服务点，请返回重新选择。"),
    "window_invalid": N_("请选择方便接听的时间。"),
    "topic_invalid": N_("请选择是哪方面的事，或者跳过。"),
    "callback_limit": N_("您已有 %(limit)s 个申请正在办理中，请等办结后再申请。"),
    "daily_request_limit": N_(
        "这台电视今天已提交 %(limit)s 次申请和预约，不能再提交了。请明天再试，或拨打12348。"
    ),
    "not_found": N_("没有找到这个页面。"),
    "program_not_found": N_("没有找到这个节目，可能已经下线。"),
    "category_not_found": N_("没有找到这个栏目。"),
    "service_point_not_found": N_("没有找到这个服务点。"),
    "region_not_found": N_("没有找到这个地区。"),
    "request_not_found": N_("没有找到这条申请。"),
    "method_not_allowed": N_("操作方式不正确，请返回后重试。"),
    "bad_request": N_("请求不正确，请返回后重试。"),
    "rate_limited": N_("操作太频繁，请稍后再试。"),
    "server_error": N_("系统暂时出了点问题，请稍后再试，或拨打12348。"),
    "idempotency_key_invalid": N_("页面已过期，请返回重新填写。"),
    "adviser_invalid": N_("没有找到本村的法律顾问，请返回首页。"),
    "adviser_not_found": N_("本村还没有登记法律顾问，可以拨打12348咨询。"),
    "score_invalid": N_("请按数字键1到5打分。"),
    "reason_invalid": N_("请选择一个原因，或者返回。"),
    # Appointments (docs/appointments.md).
    "slot_full": N_("这个时间已约满，请选择其他时间。"),
    "slot_unavailable": N_("这个时间已不能预约，请选择其他时间。"),
    "day_invalid": N_("请选择预约的日期。"),
    "slot_time_invalid": N_("请选择预约的时间。"),
    "appointment_limit": N_("您已有 %(limit)s 个预约还没去办，请办完或取消后再约。"),
    "appointment_not_found": N_("没有找到这个预约。"),
    "appointment_cutoff": N_("离办理时间太近了，电视上已不能取消；请拨打服务点电话或12348。"),
    "appointment_closed": N_("这个预约已经办结，不能再取消。"),
}

# An appointment's state as the household reads it on the box.
APPOINTMENT_STATES = {
    "booked": N_("已预约"),
    "rescheduled": N_("已改期，请按新时间前往"),
    "cancelled": N_("已取消"),
    "attended": N_("已办理"),
    "no_show": N_("未到场"),
}
