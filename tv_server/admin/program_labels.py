"""Labels and messages of the programs slice, marked for gettext (rendered with `%(name)s`
parameters taken from the domain error)."""

from tv_ui.i18n import N_

STATES = {
    "draft": N_("草稿"),
    "in_review": N_("待审核"),
    "needs_changes": N_("退回修改"),
    "scheduled": N_("已排期"),
    "current": N_("已审核"),
}

STATUS = {
    "draft": N_("未上线"),
    "published": N_("已上线"),
    "unpublished": N_("已下线"),
}

WHOLE_CITY = N_("%(name)s（全市）")
IMAGE_ALT = N_("图片说明")
IMAGE_IN_TEXT = N_("〔图片：%(alt)s〕")

LANGUAGES = {"zh": N_("汉语"), "mn": N_("蒙古语")}

CHANGE_FIELDS = {
    "title": N_("标题"),
    "summary": N_("简介"),
    "category": N_("栏目"),
    "language": N_("语言"),
    "tags": N_("标签"),
    "regions": N_("播出地区"),
    "cover": N_("封面"),
    "images": N_("图片"),
    "video": N_("视频"),
    "citations": N_("法律依据"),
    "subtitles": N_("字幕"),
}

ACTIONS = {
    "program.create": N_("新建"),
    "program.save": N_("保存草稿"),
    "program.submit": N_("提交审核"),
    "program.withdraw": N_("撤回"),
    "program.request_changes": N_("退回修改"),
    "program.approve": N_("审核通过"),
    "program.publish_scheduled": N_("按排期上线"),
    "program.unpublish": N_("下线"),
    "program.republish": N_("重新上线"),
    "program.expire": N_("到期下线"),
    "program.revert": N_("恢复为线上版本"),
    "program.restore": N_("恢复为草稿"),
    "program.citations": N_("修改法律依据"),
    "program.legal_reapprove": N_("法律复核通过"),
    "program.legal_withdraw": N_("法律复核期间下线"),
    "program.legal_keep_live": N_("法律复核期间继续播出"),
}

NOTICES = {
    "program_saved": N_("草稿已保存，电视上的内容不变，提交审核并通过后才会上线。"),
    "program_unchanged": N_("没有修改。"),
    "program_created": N_("节目已创建为草稿。"),
    "program_submitted": N_("已提交审核。"),
    "program_withdrawn": N_("已撤回，节目回到草稿状态。"),
    "program_changes_requested": N_("已退回编辑修改。"),
    "program_published": N_("已上线，机顶盒将在几秒内看到新内容。"),
    "program_scheduled": N_("已审核通过，将在排期时间自动上线。"),
    "program_unpublished": N_("节目已下线，机顶盒上不再显示。"),
    "program_republished": N_("节目已重新上线。"),
    "program_reverted": N_("已恢复为所选的线上版本。"),
    "program_restored": N_("所选版本已恢复为草稿，请检查后提交审核。"),
}

ERRORS = {
    "program_not_found": N_("没有这个节目。"),
    "revision_not_found": N_("没有这个版本。"),
    "title_required": N_("请填写标题。"),
    "title_too_long": N_("标题有%(n)s个字，最多%(max)s个字。"),
    "summary_required": N_("请填写简介。"),
    "summary_too_long": N_("简介有%(n)s个字，最多%(max)s个字。"),
    "category_unknown": N_("请选择栏目。"),
    "language_invalid": N_("请选择语言。"),
    "regions_required": N_("请至少选择一个播出地区。"),
    "too_many_tags": N_("标签最多%(max)s个。"),
    "tag_too_long": N_("标签“%(tag)s”太长，每个标签最多%(max)s个字。"),
    "body_required": N_("请填写节目正文。"),
    "body_no_title": N_("正文第一行必须是页标题，格式：# 页标题"),
    "too_many_pages": N_("一个节目最多%(max)s页。"),
    "page_title_empty": N_("第%(page)s页没有标题。"),
    "page_empty": N_("第%(page)s页只有标题，没有正文。"),
    "page_too_long": N_("第%(page)s页有%(n)s个字，电视一屏放不下（最多%(max)s个字），请分成两页。"),
    "image_path_invalid": N_("第%(page)s页的图片“%(ref)s”不能是网址，请先上传图片。"),
    "image_not_uploaded": N_("第%(page)s页用到的图片“%(ref)s”还没有上传。"),
    "image_alt_missing": N_("第%(page)s页的图片“%(ref)s”缺少说明文字，格式：![说明](%(ref)s)"),
    "upload_not_image": N_("上传的文件不是JPEG、PNG或WebP图片。"),
    "upload_truncated": N_("上传的文件不完整或已损坏。"),
    "upload_bomb": N_("上传的图片尺寸太大。"),
    "upload_too_large": N_("上传的文件太大，每个文件最多%(mb)s MB。"),
    "payload_too_large": N_("上传的文件太大。"),
    "slug_invalid": N_("节目代号只能用小写字母、数字和横线。"),
    "slug_taken": N_("这个节目代号已被使用。"),
    "edited_elsewhere": N_("别人刚刚保存了这个节目。请重新打开页面，在最新版本上修改。"),
    "not_allowed_in_review": N_("节目正在审核中，不能修改；请先撤回。"),
    "not_allowed_draft": N_("节目当前的状态不能进行这个操作。"),
    "not_allowed_needs_changes": N_("节目当前的状态不能进行这个操作。"),
    "not_allowed_scheduled": N_("节目当前的状态不能进行这个操作。"),
    "not_allowed_current": N_("节目当前的状态不能进行这个操作。"),
    "not_allowed_published": N_("节目已经在线上。"),
    "not_allowed_unpublished": N_("节目已经下线。"),
    "nothing_to_review": N_("草稿和线上版本相同，没有需要审核的内容。"),
    "comment_required": N_("退回时请写明需要修改什么。"),
    "expiry_before_start": N_("下线时间必须晚于上线时间。"),
    "date_invalid": N_("时间格式不对。"),
    "revision_never_published": N_("这个版本从未上线过，请用“恢复为草稿”并送审。"),
    "approve_own_work": N_("不能审核通过自己编写或提交的节目，请另一位审核员审核。"),
    "upload_not_mp4": N_("视频必须是MP4、MOV、MKV或WebM文件。"),
    "upload_too_many": N_("一次最多上传20个文件。"),
    "upload_kind": N_("上传类型不正确。"),
    "poster_without_video": N_("海报图片要和视频一起上传。"),
    "poster_candidate": N_("请选一张视频画面，或上传一张海报图片（画面在转码完成后才有）。"),
    "video_unreadable": N_("无法读取这个视频文件，请重新导出后再上传。"),
    "video_no_stream": N_("这个文件里没有视频画面，请换一个文件。"),
    "video_codec": N_("服务器无法解码这种视频编码（%(codec)s），请导出为H.264再上传。"),
    "video_too_short": N_("视频太短，至少要1秒。"),
    "video_too_long": N_("视频太长，最长%(minutes)s分钟。"),
    "video_not_ready": N_("视频还在转码或转码失败，视频处理好之后才能提交审核。"),
}

FORM_PROBLEMS = N_("有%(n)s处需要修改，已在下面标出。")

SCOPE_READ_ONLY = N_("这个节目的播出地区超出您负责的地区，您只能查看和预览，不能修改。")
VIDEO_INFO = N_("视频：%(name)s，%(mb)s MB，%(seconds)s 秒")
VIDEO_STATES = {
    "queued": N_("排队等待转码"),
    "running": N_("正在转码"),
    "done": N_("转码完成，可以播放"),
    "failed": N_("转码失败"),
}
