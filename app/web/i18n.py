"""The shopper page's message catalogue (English, Simplified Chinese) and language choice.

A small dict per language rather than gettext: the page has a few dozen strings, the same
catalogue feeds the Jinja template and (as JSON) the page's script, and a test checks that
every language has every key. ``{name}`` placeholders are filled by ``format`` in Python and
by the script's ``t()``; keys ending ``.one`` / ``.other`` are plural forms chosen with
``Intl.PluralRules``.
"""

from __future__ import annotations

from flask import Request

DEFAULT_LANGUAGE = "en"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "page.title": "Choose a pickup point",
        "page.intro": "Find a store, locker or partner shop near you to collect your order.",
        "page.noscript": "This page needs JavaScript to search for pickup points.",
        "lang.switch": "中文",
        "search.label": "Address, postcode or town",
        "search.placeholder": "e.g. 20001 or Washington",
        "search.hint": (
            "Suggestions appear as you type; use the up and down arrow keys to pick one."
        ),
        "search.button": "Search",
        "search.empty": "Type an address, postcode or town first.",
        "search.searching": "Searching…",
        "suggest.label": "Suggestions",
        "place.near_network": "Pickup points nearby",
        "suggest.count.one": "{count} suggestion. Use the up and down arrow keys to choose.",
        "suggest.count.other": "{count} suggestions. Use the up and down arrow keys to choose.",
        "locate.button": "Use my location",
        "locate.locating": "Finding your location…",
        "locate.label": "your location",
        "locate.denied": (
            "No problem, we won't use your location. Type an address or postcode instead."
        ),
        "locate.unavailable": (
            "We couldn't find your location just now. Type an address or postcode instead."
        ),
        "locate.unsupported": (
            "This browser can't share your location. Type an address or postcode instead."
        ),
        "filters.title": "Filters",
        "filters.open_now": "Open now",
        "filters.kinds": "Type of place",
        "filters.services": "Services",
        "filters.active.one": "{count} filter on",
        "filters.active.other": "{count} filters on",
        "filters.clear": "Clear filters",
        "kind.store": "Store",
        "kind.convenience_store": "Convenience store",
        "kind.locker": "Parcel locker",
        "kind.warehouse": "Warehouse",
        "capability.pickup": "Pickup",
        "capability.returns": "Returns",
        "capability.delivery": "Delivery",
        "capability.express_delivery": "1-hour delivery",
        "capability.cold_chain": "Chilled goods",
        "capability.frozen": "Frozen goods",
        "capability.bulky": "Bulky items",
        "capability.cash": "Pay in cash",
        "capability.accessible": "Step-free access",
        "results.heading": "Pickup points",
        "results.intro": (
            "Search for an address or postcode, or use your location, "
            "to see the pickup points near you."
        ),
        "results.count.one": "{count} pickup point near {place}",
        "results.count.other": "{count} pickup points near {place}",
        "results.more": "Show more",
        "results.empty": "No pickup points within {radius} of {place}.",
        "results.empty_filters": "Some filters are on; clearing them may find more.",
        "results.widen": "Search within {radius}",
        "results.empty_max": "Try another address, or fewer filters.",
        "ambiguous.heading": "Which “{query}” did you mean?",
        "notfound": (
            "We couldn't find “{query}”. Check the spelling, or try a postcode or a town."
        ),
        "error.unavailable": "We can't load pickup points right now. Please try again in a moment.",
        "error.request": "That search didn't work: {detail}",
        "error.retry": "Try again",
        "unit.m": "{n} m",
        "unit.km": "{n} km",
        "hours.open": "Open now",
        "hours.open_until": "Open now · closes {when}",
        "hours.open_always": "Open 24 hours",
        "hours.closed": "Closed",
        "hours.opens": "Closed · opens {when}",
        "hours.unknown": "Opening hours not known",
        "when.today": "today {time}",
        "when.tomorrow": "tomorrow {time}",
        "when.day": "{day} {time}",
        "entry.distance": "Distance",
        "entry.services": "Services",
        "entry.choose": "Choose this pickup point",
        "entry.chosen": "Chosen",
        "chosen.status": "You chose {name}.",
        "chosen.redirecting": "You chose {name}. Taking you back…",
        "return.disallowed": (
            "This page was opened with a return address that isn't on the allowed list, "
            "so your choice won't be sent there."
        ),
        "map.label": "Map of the pickup points in the list",
        "map.hint": "The network's locations. Search for a postcode, a place or an address"
        " to see the pickup points nearest to it.",
        "map.origin": "Search location",
        "map.cluster.one": "{count} pickup point",
        "map.cluster.other": "{count} pickup points",
        "cart.heading": "Your cart",
        "cart.line": "{qty} × {name}",
        "cart.checking": "Checking your cart…",
        "cart.failed": "We couldn't check your cart just now; the pickup points are shown "
        "without it.",
        "cart.unknown_sku": "We don't know the product “{sku}”, so your cart can't be checked.",
        "cart.bad_line": "Line {n} of your cart can't be read, so your cart can't be checked.",
        "cart.sent_invalid": "The checkout sent a cart that can't be read; it was ignored.",
        "cart.invalid.empty": "The cart in this link is empty.",
        "cart.invalid.line": "The cart in this link can't be read: “{part}” should look like "
        "sku:quantity, for example milk-1l:2.",
        "cart.invalid.sku": "The cart in this link can't be read: “{part}” is not a product "
        "code (letters, digits, dots, dashes and underscores, up to 64).",
        "cart.invalid.qty": "The cart in this link can't be read: the quantity in “{part}” "
        "must be a whole number from {min} to {max}.",
        "cart.invalid.twice": "The cart in this link names “{part}” more than once.",
        "cart.invalid.too_many": "The cart in this link has more than {max} lines.",
        "cart.invalid.too_long": "The cart in this link is too long to read.",
        "cart.invalid.suffix": "The pickup points below are not checked against it.",
        "at.invalid": "The order time in this link is not a date and time with a UTC offset, "
        "so now is used.",
        "cart.ready.today": "Whole cart ready at {time}",
        "cart.ready.later": "Whole cart ready {when}",
        "cart.transfer.today": "Ready at {time}, sent from {warehouse}",
        "cart.transfer.later": "Ready {when}, sent from {warehouse}",
        "cart.unchecked": "Not checked for your cart",
        "entry.unavailable": "Can't take this cart",
        "delivery.heading": "Delivered to you",
        "delivery.express.today": "1-hour delivery, at your door by {time}",
        "delivery.express.later": "1-hour delivery, at your door by {when}",
        "delivery.delivery.today": "Delivery, sent at {time}",
        "delivery.delivery.later": "Delivery, sent {when}",
        "delivery.from": "From {name}",
        "delivery.choose": "Choose this delivery",
        "delivery.chosen": "You chose delivery from {name}.",
        "reason.out_of_stock": "{items} out of stock",
        "reason.temperature.cold_chain": "No chilled storage",
        "reason.temperature.frozen": "No freezer",
        "reason.capacity_full": "Fully booked for the next 7 days",
        "reason.after_cutoff": "Past today's order cut-off",
        "reason.closed": "Can't have it ready within 7 days",
        "reason.outside_area": "Doesn't deliver to this address",
        "reason.too_slow": "Can't arrive within the hour",
        "reason.not_supplied": "No warehouse restocks it",
        "list.and": ", ",
        # The location page (app/web/templates/location.html): the codes above as labels.
        "location.heading": "Location",
        "location.id": "ID",
        "location.kind": "Type",
        "location.brand": "Brand",
        "location.address": "Address",
        "location.position": "Position",
        "location.status": "Status",
        "location.hours": "Opening hours",
        "location.now": "Now",
        "location.none": "None",
        "location.areas": "Service areas",
        "location.area.mode": "Service",
        "location.area.shape": "Area",
        "location.area.radius": "{km} km radius",
        "location.area.drive_time": "Where a car gets in its drive time",
        "location.area.polygon": "Drawn area",
        "location.no_areas": "This location has no service area.",
        "status.active": "Active",
        "status.temporarily_closed": "Temporarily closed",
        "status.retired": "Closed for good",
        "map.legend": "Legend",
        "map.legend.area": "{mode} area",
        "map.layer.areas": "{mode} areas ({count})",
        "map.layer.locations": "Locations ({count})",
        "mode.delivery": "Delivery",
        "mode.express": "1-hour delivery",
        "mode.supply": "Restocking from a warehouse",
        "nav.home": "Find a pickup point",
        "nav.planner": "Planner",
        # Error pages (app/web/error_pages.py), by status; ".<field>" names what is missing.
        "errorpage.site": "Pickup-point locator",
        "errorpage.status": "Error {status}",
        "errorpage.home": "Find a pickup point",
        "errorpage.planner": "Open the planner",
        "errorpage.detail": "Details:",
        "errorpage.reference": "Reference:",
        "errorpage.400.title": "That link isn't quite right",
        "errorpage.400": "Part of this page's address can't be used. Check the link, or start "
        "again from the home page.",
        "errorpage.404.title": "Not found",
        "errorpage.404": "There is nothing at this address. Check the link, or start again "
        "from the home page.",
        "errorpage.404.region": "There is no region “{value}”. Open the planner to choose one "
        "of the regions it knows.",
        "errorpage.404.external_id": "There is no location “{value}”. It may have been "
        "removed, or the link may be mistyped.",
        "errorpage.405.title": "That can't be done here",
        "errorpage.405": "This page can only be viewed. Start again from the home page.",
        "errorpage.429.title": "Too many requests",
        "errorpage.429": "This page was asked for too often just now. Please wait a minute "
        "and try again.",
        "errorpage.500.title": "Something went wrong",
        "errorpage.500": "The page could not be shown. Please try again later.",
        "errorpage.503.title": "Temporarily unavailable",
        "errorpage.503": "We can't reach the locator's database just now, so this page can't "
        "be shown. It usually comes back within moments: please try again.",
    },
    "zh-CN": {
        "page.title": "选择自提点",
        "page.intro": "查找您附近的门店、自提柜或合作商店，就近取件。",
        "page.noscript": "此页面需要启用 JavaScript 才能搜索自提点。",
        "lang.switch": "English",
        "search.label": "地址、邮编或城镇",
        "search.placeholder": "例如 20001 或 Washington",
        "search.hint": "输入时会显示建议；使用上下方向键选择。",
        "search.button": "搜索",
        "search.empty": "请先输入地址、邮编或城镇。",
        "search.searching": "正在搜索…",
        "suggest.label": "建议",
        "place.near_network": "附近有自提点",
        "suggest.count.one": "{count} 条建议。使用上下方向键选择。",
        "suggest.count.other": "{count} 条建议。使用上下方向键选择。",
        "locate.button": "使用我的位置",
        "locate.locating": "正在获取您的位置…",
        "locate.label": "您的位置",
        "locate.denied": "没关系，我们不会使用您的位置。请改为输入地址或邮编。",
        "locate.unavailable": "暂时无法获取您的位置。请改为输入地址或邮编。",
        "locate.unsupported": "此浏览器无法共享位置。请改为输入地址或邮编。",
        "filters.title": "筛选",
        "filters.open_now": "正在营业",
        "filters.kinds": "地点类型",
        "filters.services": "服务",
        "filters.active.one": "已启用 {count} 个筛选条件",
        "filters.active.other": "已启用 {count} 个筛选条件",
        "filters.clear": "清除筛选",
        "kind.store": "门店",
        "kind.convenience_store": "便利店",
        "kind.locker": "自提柜",
        "kind.warehouse": "仓库",
        "capability.pickup": "自提",
        "capability.returns": "退货",
        "capability.delivery": "配送",
        "capability.express_delivery": "一小时达",
        "capability.cold_chain": "冷藏商品",
        "capability.frozen": "冷冻商品",
        "capability.bulky": "大件商品",
        "capability.cash": "现金支付",
        "capability.accessible": "无障碍通道",
        "results.heading": "自提点",
        "results.intro": "搜索地址或邮编，或使用您的位置，查看附近的自提点。",
        "results.count.one": "{place}附近有 {count} 个自提点",
        "results.count.other": "{place}附近有 {count} 个自提点",
        "results.more": "显示更多",
        "results.empty": "{place} {radius}范围内没有自提点。",
        "results.empty_filters": "已启用筛选条件；清除后可能找到更多。",
        "results.widen": "扩大到 {radius} 范围内搜索",
        "results.empty_max": "请尝试其他地址，或减少筛选条件。",
        "ambiguous.heading": "您指的是哪个“{query}”？",
        "notfound": "找不到“{query}”。请检查拼写，或尝试输入邮编或城镇。",
        "error.unavailable": "暂时无法加载自提点，请稍后重试。",
        "error.request": "搜索未成功：{detail}",
        "error.retry": "重试",
        "unit.m": "{n} 米",
        "unit.km": "{n} 公里",
        "hours.open": "正在营业",
        "hours.open_until": "正在营业 · {when} 打烊",
        "hours.open_always": "24 小时营业",
        "hours.closed": "已打烊",
        "hours.opens": "已打烊 · {when} 开门",
        "hours.unknown": "营业时间未知",
        "when.today": "今天 {time}",
        "when.tomorrow": "明天 {time}",
        "when.day": "{day} {time}",
        "entry.distance": "距离",
        "entry.services": "服务",
        "entry.choose": "选择此自提点",
        "entry.chosen": "已选择",
        "chosen.status": "您选择了{name}。",
        "chosen.redirecting": "您选择了{name}。正在返回…",
        "return.disallowed": "此页面附带的返回地址不在允许列表中，因此不会将您的选择发送到该地址。",
        "map.label": "列表中自提点的地图",
        "map.hint": "网络中的全部网点。输入邮编、地名或地址，查看离您最近的自提点。",
        "map.origin": "搜索位置",
        "map.cluster.one": "{count} 个自提点",
        "map.cluster.other": "{count} 个自提点",
        "cart.heading": "您的购物车",
        "cart.line": "{name} × {qty}",
        "cart.checking": "正在核对您的购物车…",
        "cart.failed": "暂时无法核对您的购物车；以下自提点未按购物车筛选。",
        "cart.unknown_sku": "我们没有商品“{sku}”，因此无法核对您的购物车。",
        "cart.bad_line": "购物车第 {n} 行无法读取，因此无法核对您的购物车。",
        "cart.sent_invalid": "结账页面发送的购物车无法读取，已忽略。",
        "cart.invalid.empty": "此链接中的购物车是空的。",
        "cart.invalid.line": "无法读取此链接中的购物车：“{part}”应写成 商品编码:数量，"
        "例如 milk-1l:2。",
        "cart.invalid.sku": "无法读取此链接中的购物车：“{part}”不是商品编码"
        "（字母、数字、点、连字符和下划线，最多 64 个）。",
        "cart.invalid.qty": "无法读取此链接中的购物车：“{part}”中的数量必须是 {min} 到 {max} "
        "之间的整数。",
        "cart.invalid.twice": "此链接中的购物车多次列出“{part}”。",
        "cart.invalid.too_many": "此链接中的购物车超过 {max} 行。",
        "cart.invalid.too_long": "此链接中的购物车太长，无法读取。",
        "cart.invalid.suffix": "以下自提点未按该购物车核对。",
        "at.invalid": "此链接中的下单时间不是带 UTC 偏移的日期时间，因此按现在计算。",
        "cart.ready.today": "整单 {time} 可取",
        "cart.ready.later": "整单 {when} 可取",
        "cart.transfer.today": "{time} 可取，由 {warehouse} 调货",
        "cart.transfer.later": "{when} 可取，由 {warehouse} 调货",
        "cart.unchecked": "未按您的购物车核对",
        "entry.unavailable": "无法提供此购物车",
        "delivery.heading": "送货上门",
        "delivery.express.today": "一小时达，{time} 前送到",
        "delivery.express.later": "一小时达，{when} 前送到",
        "delivery.delivery.today": "配送，{time} 发出",
        "delivery.delivery.later": "配送，{when} 发出",
        "delivery.from": "由 {name} 发货",
        "delivery.choose": "选择此配送",
        "delivery.chosen": "您选择了由 {name} 配送。",
        "reason.out_of_stock": "{items} 缺货",
        "reason.temperature.cold_chain": "无冷藏设施",
        "reason.temperature.frozen": "无冷冻设施",
        "reason.capacity_full": "未来 7 天已约满",
        "reason.after_cutoff": "已过今日截单时间",
        "reason.closed": "7 天内无法备好",
        "reason.outside_area": "不配送到此地址",
        "reason.too_slow": "无法在一小时内送达",
        "reason.not_supplied": "没有仓库为其补货",
        "list.and": "、",
        "location.heading": "地点",
        "location.id": "编号",
        "location.kind": "类型",
        "location.brand": "品牌",
        "location.address": "地址",
        "location.position": "位置",
        "location.status": "状态",
        "location.hours": "营业时间",
        "location.now": "当前",
        "location.none": "无",
        "location.areas": "服务范围",
        "location.area.mode": "服务",
        "location.area.shape": "范围",
        "location.area.radius": "半径 {km} 公里",
        "location.area.drive_time": "驾车时限内可达的范围",
        "location.area.polygon": "绘制的范围",
        "location.no_areas": "该地点没有服务范围。",
        "status.active": "正常营业",
        "status.temporarily_closed": "暂停营业",
        "status.retired": "已永久关闭",
        "map.legend": "图例",
        "map.legend.area": "{mode}范围",
        "map.layer.areas": "{mode}范围（{count}）",
        "map.layer.locations": "网点（{count}）",
        "mode.delivery": "配送",
        "mode.express": "一小时达",
        "mode.supply": "仓库补货",
        "nav.home": "查找自提点",
        "nav.planner": "网络规划",
        "errorpage.site": "自提点查询",
        "errorpage.status": "错误 {status}",
        "errorpage.home": "查找自提点",
        "errorpage.planner": "打开网络规划",
        "errorpage.detail": "详情：",
        "errorpage.reference": "参考编号：",
        "errorpage.400.title": "链接有误",
        "errorpage.400": "此页面地址中有部分内容无法使用。请检查链接，或从首页重新开始。",
        "errorpage.404.title": "未找到",
        "errorpage.404": "此地址没有内容。请检查链接，或从首页重新开始。",
        "errorpage.404.region": "没有名为“{value}”的区域。请打开网络规划，选择其中列出的区域。",
        "errorpage.404.external_id": "没有编号为“{value}”的地点。它可能已被删除，或链接有误。",
        "errorpage.405.title": "此操作无法在这里进行",
        "errorpage.405": "此页面只能查看。请从首页重新开始。",
        "errorpage.429.title": "请求过于频繁",
        "errorpage.429": "刚才对此页面的请求过多。请稍等一分钟后重试。",
        "errorpage.500.title": "出错了",
        "errorpage.500": "无法显示此页面。请稍后重试。",
        "errorpage.503.title": "暂时无法使用",
        "errorpage.503": "暂时无法连接定位服务的数据库，因此无法显示此页面。"
        "通常很快就会恢复，请重试。",
    },
}

LANGUAGES = tuple(MESSAGES)
# Chinese tags we answer with Simplified Chinese (Traditional-script tags fall back to
# English: Simplified is not a translation a zh-TW reader asked for).
_SIMPLIFIED = {"zh", "zh-cn", "zh-hans", "zh-sg", "zh-hans-cn", "zh-hans-sg"}


def normalise(tag: str | None) -> str | None:
    """The catalogue language for a BCP 47 tag (any case, ``_`` or ``-``), or None."""
    if not tag:
        return None
    tag = tag.strip().replace("_", "-").lower()
    if tag in _SIMPLIFIED:
        return "zh-CN"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    return None


def choose_language(request: Request) -> str:
    """``?lang=`` when it names a catalogue language, else the best Accept-Language match."""
    chosen = normalise(request.args.get("lang"))
    if chosen:
        return chosen
    # accept_languages is sorted by quality; the first tag we can serve wins.
    for tag, quality in request.accept_languages:
        chosen = normalise(tag)
        if chosen and quality > 0:
            return chosen
    return DEFAULT_LANGUAGE


def catalogue(language: str) -> dict[str, str]:
    """Every message in ``language`` (English for anything unknown)."""
    return MESSAGES.get(language, MESSAGES[DEFAULT_LANGUAGE])
