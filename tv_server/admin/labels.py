"""Admin UI labels and messages, marked for gettext."""

from tv_ui.i18n import N_

ROLES = {
    "admin": N_("管理员"),
    "editor": N_("编辑"),
    "reviewer": N_("审核"),
    "staff": N_("工作人员"),
    "viewer": N_("只读"),
}

# Region levels as the offices name them (in exports and headings).
REGION_LEVELS = {
    "province": N_("自治区"),
    "city": N_("市"),
    "county": N_("旗区"),
    "township": N_("苏木乡镇"),
    "village": N_("嘎查村"),
}


def percent(share: float | None) -> str:
    """A rate as the reports write it: '25.0%', or '' when there is none."""
    return "" if share is None else f"{share * 100:.1f}%"


NOTICES = {
    "saved": N_("已保存。"),
    "version_saved": N_("蒙古文版本已保存（草稿，待母语者审校）。"),
    "version_reviewed": N_("蒙古文版本已标记为已审校。"),
    "version_deleted": N_("蒙古文版本已删除。"),
    "created": N_("已创建。"),
    "disabled": N_("账号已停用。"),
    "enabled": N_("账号已启用。"),
    "password": N_("密码已更改，该账号的所有登录已退出。"),
    "logged_out": N_("您已退出登录。"),
    "logged_out_everywhere": N_("您已在所有设备上退出登录。"),
}

ERRORS = {
    # One message for every refused login: it must not tell whether the name exists.
    "login_failed": N_("用户名或密码不正确。连续输错5次，账号将锁定15分钟。"),
    "login_rate": N_("尝试次数过多，请10分钟后再试。"),
    "csrf": N_("页面已过期，请刷新后重试。"),
    "anonymous_too_large": N_("未登录时不能提交这么多内容。请先登录，再重新提交。"),
    "forbidden": N_("您没有权限进行这个操作。"),
    "username_invalid": N_("用户名只能用3到32个字母、数字、下划线、点或横线。"),
    "username_taken": N_("这个用户名已被使用。"),
    "role_invalid": N_("请选择角色。"),
    "admin_not_scoped": N_("管理员不能限定地区。"),
    "region_not_found": N_("没有这个地区。"),
    "password_too_short": N_("密码至少10个字符。"),
    "password_contains_username": N_("密码不能包含用户名。"),
    "password_too_simple": N_("密码太简单。"),
    "password_mismatch": N_("两次输入的密码不一致。"),
    "not_found": N_("没有找到这个页面。"),
    "server_error": N_("系统出错了，请稍后再试。"),
    "self_disable": N_("不能停用自己的账号。"),
}
