package console

// tr translates a console text, written in Chinese, to lang: "zh" gives
// it as it is; "en" gives its English, or the Chinese when the dictionary
// lacks it (TestEveryTextHasEnglish keeps it complete).
func tr(lang, zh string) string {
	if lang == "en" {
		if s, ok := english[zh]; ok {
			return s
		}
	}
	return zh
}

// english is the console's English.
var english = map[string]string{
	"Open311 客户端（居民应用、FixMyStreet 等）用密钥向 /open311/v2/ 上报；密钥只存其摘要。": "Open311 clients (residents' apps, FixMyStreet…) report to /open311/v2/ with a key; only its digest is stored.",
	"客户端": "Client", "每分钟": "Per minute", "请求体上限": "Body limit", "创建": "Create", "已吊销": "Revoked",
	"吊销后该密钥立即失效。": "Once revoked, the key stops working at once.", "吊销": "Revoke", "有效": "Active",
	"还没有密钥。": "No keys yet.", "新建密钥": "New key", "客户端名称": "Client name",
	"限定街道（不选为全部）": "Limit to streets (none: all)", "限定事项编号（逗号分隔，留空为全部）": "Limit to item codes (comma-separated; empty: all)",
	"每分钟请求数": "Requests a minute", "请求体上限（字节）": "Body limit (bytes)", "请填写整数：": "Give a whole number: ",
	"新密钥（只显示这一次，请立即保存）：": "New key (shown this once: store it now): ", "Open311 接入": "Open311",
	"补充信息": "More about it", "渠道": "Channel", "全部渠道": "All channels", "按渠道不含时长": "times are not kept per channel", "上报": "Report", "上报时间": "Reported", "上报街道": "Escalated to the street", "上报问题": "Report a problem",
	"下一级": "Next step", "下一页": "Next page", "下载月报 CSV": "Download monthly report (CSV)", "不同意": "Refuse",
	"不同意延期": "Extension refused", "不满意": "Unsatisfied", "主导航": "Main navigation", "争议与延期": "Disputes & extensions",
	"事件": "Incidents", "事件详情": "Incident", "事项": "Items", "事项不是有效的 JSON：": "The item is not valid JSON: ",
	"事项与描述": "Item and description", "事项（JSON）": "Item (JSON)",
	"令牌无效或已过期：请用 whistle token 重新生成。":   "The token is invalid or expired: mint a new one with whistle token.",
	"这是接入系统（intake）的令牌，只能调用接口，不能登录控制台。": "This is an intake system's token (role intake): it calls the API and cannot sign in to the console.",
	"令牌（whistle token 生成）":              "Token (from whistle token)", "任务": "Tasks", "位置": "Place", "低于目标": "below target",
	"保存新版本": "Save as a new version", "修改": "Edit", "修改理由": "Why it changes", "停用": "Retire",
	"停用此事项": "Retire this item", "停用理由": "Why it is retired", "催办": "Urge", "全选": "Select all", "全部": "All",
	"全部完成": "All tasks completed", "内容太长。": "Too long.", "出错了": "Something went wrong", "出错了：": "Something went wrong: ",
	"分拨": "Triage", "分流": "Routed", "分类": "Tabs", "办理超时升级": "Resolution overdue: escalated",
	"办理预警": "Resolution warning", "办结": "Resolve", "办结任务": "Complete", "办结处置": "Resolved", "办结时限": "Resolution SLA",
	"区": "District", "区通报": "District notice", "发送中…": "Sending…", "口径": "Definitions", "同意": "Approve",
	"同意延期": "Extension approved", "名次": "Rank", "名称": "Name", "吹哨": "Whistle",
	"吹哨部门（第一个为牵头）": "Departments to whistle (the first leads)", "响应率": "Response", "回访": "Return visit",
	"回访期限": "Return visit due", "地图": "Map", "地址": "Address", "基本满意": "Basically satisfied", "处置中": "In progress",
	"处置结果": "Result", "备注": "Note", "复核时间": "Review at", "完成": "Completed", "实时": "Live", "审批延期": "Decide extension",
	"层级": "Tier", "已上报，编号 ": "Reported, number ", "已停用": "Retired", "已办结": "Closed", "已完成": "Completed",
	"已定位": "Located", "已恢复未发送的草稿。": "Your unsent draft is back.", "已报到 N 件。": "Acknowledged N.",
	"已接收": "Received", "已提交。": "Done.", "已提交区裁定": "referred to the district", "已撤销": "Cancelled",
	"已派单": "Dispatched", "已退单": "Returned", "已驳回": "Rejected", "延期申请": "Extension requests", "延期至": "Extend until",
	"开放事件地图": "Map of open incidents", "当前状态不允许此操作，没有做任何更改。": "Not possible in the current state; nothing was changed.",
	"待分拨": "Triage", "待办": "Inbox", "待回访": "Awaiting return visit", "待报到": "To acknowledge", "待核查": "Verifying",
	"恢复": "Resume", "您无权执行此操作。": "You may not do this.", "您的角色不能使用此页面。": "Your role cannot use this page.",
	"我的上报": "My reports", "执法调度": "Enforcement called", "批量报到": "Acknowledge selected",
	"找不到，或不在您的范围内。": "Not found, or not yours to see.", "报到": "Acknowledge", "报到时限": "Acknowledgement SLA",
	"报到超时升级": "Acknowledgement overdue: escalated", "报到预警": "Acknowledgement warning", "挂账": "Suspend",
	"挂账复核到期": "Suspension review due", "指示（改变清单部门时必填理由）": "Instructions (the reason, when not the list's departments)",
	"按时办结率": "On-time resolution", "接口文档": "API reference", "提交": "Submit", "提交区裁定": "Refer to the district",
	"提交区裁定的理由": "Why the district should decide", "撤销任务": "Task cancelled", "操作": "Actions",
	"收到重复上报": "Duplicate report received", "改变派单": "Routing override", "改派": "Reassign", "改派给": "Reassign to",
	"无法定位，请手动填写地址。": "Cannot locate you: type the address.", "时间线": "Timeline", "最低级别": "Minimum level",
	"最少案件数": "Minimum cases", "最高级": "Top of the ladder", "月份": "Month", "期限": "Due", "未办结": "Not resolved",
	"未报到": "Not acknowledged", "未超期": "Not overdue", "本月还没有数据。": "No figures for this month yet.",
	"查找类别": "Find a category", "查看": "Show", "核查": "Verify", "核查未通过": "Verification failed", "核查通过": "Verified",
	"案件最多": "Most cases", "案件过少": "too few cases", "次数": "Times", "每月一题候选": "Candidates for the topic of the month",
	"没有事件。": "No incidents.", "没有待分拨的事件。": "Nothing to triage.", "没有待审批的延期申请。": "No extension requests.",
	"没有待裁定的退单。": "No returns to arbitrate.", "没有超期任务。": "Nothing overdue.", "没有这个操作。": "No such action.",
	"派单": "Task created", "清单事项": "Responsibility list item", "满意": "Satisfied", "满意度": "Satisfaction",
	"满意率": "Satisfaction", "满意率最低": "Lowest satisfaction", "照片": "Photo",
	"照片链接（每行一个，可不填）": "Photo links (one per line, optional)", "版本": "Version", "牵头": "Lead", "状态": "Status",
	"现期限": "Due now", "理由": "Reason", "用手机定位": "Use my location", "申请延期": "Ask for an extension", "申请至": "asked until",
	"登录": "Sign in", "登录已过期，请重新登录。": "Your session has expired: sign in again.",
	"登录表单已过期，请再试一次。": "The sign-in form expired: try again.", "目标线": "Target", "督办": "Supervise",
	"社区处置": "Community", "筛选": "Filter", "管理员": "Admin", "类别": "Category", "类型": "Kind",
	"系统忙，请稍后重试；没有做任何更改。": "The system is busy: try again shortly; nothing was changed.", "级别": "Level",
	"纬度": "Latitude", "经度": "Longitude", "经纬度应为数字。": "Latitude and longitude must be numbers.", "维度": "Table",
	"综合得分": "Score", "编号": "Number", "网格": "Grid", "网格员": "Grid worker",
	"网络不好，正在重试（不会重复上报）…": "Poor connection: retrying (it will not be reported twice)…", "群众意见": "Resident's words",
	"考核": "League tables", "考核评分": "Rate", "街道": "Street", "街道吹哨 部门报到": "the street whistles, departments report in",
	"解决率": "Resolution", "评分 (0–100)": "Score (0–100)", "请先勾选要报到的任务。": "Select the tasks to acknowledge first.",
	"请选择类别并填写描述。": "Choose a category and describe the problem.", "责任清单": "Responsibility list", "超期": "Overdue",
	"超期看板": "Overdue board", "跳到正文": "Skip to content", "输入名称或编号": "Type a name or code",
	"输入有误，请修改后重试。": "Please correct the input and try again.", "达标": "Meets targets",
	"运行 whistle dev 时，终端会打印每个角色的令牌和登录地址。": "whistle dev prints a token and the sign-in address for each role.",
	"近12个月趋势": "Last 12 months", "返回首页": "Back to the start", "还没有上报。": "No reports yet.", "这里没有任务。": "No tasks here.",
	"连接中断，正在重连": "Disconnected: reconnecting", "退出": "Sign out", "退单": "Return", "退单待裁定": "Returns to arbitrate",
	"退单理由": "Return reason", "选择": "Select", "部门": "Department", "部门与期限": "Departments and deadlines",
	"部门（第一个为牵头）": "Departments (the first leads)", "配合": "Cooperating", "重办": "Reopened", "重复上报": "Duplicate",
	"重复诉求": "Repeat", "重复诉求最多": "Most repeats", "问题已解决": "The problem is solved", "问题描述": "Description",
	"页面已过期或来自别处：请刷新后再试。": "This page expired or came from elsewhere: reload it and try again.",
	"领域": "Domains", "驳回理由": "Why it is overruled", "驳回退单": "Overrule", "其他": "Other",
	"超时": "overdue by", "已超时": "Overdue", "没有这个页面。": "No such page.",
}
