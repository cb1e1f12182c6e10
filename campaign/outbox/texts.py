"""Message texts per kind and language (pure data and formatting).

Placeholders: ``{first_name}``, ``{last_name}`` (Japanese texts address the
family name: ``{last_name}様``), ``{full_name}`` (Chinese texts: ``{full_name}您好``), ``{store_name}``, ``{offer}``,
``{valid_until}``, ``{booking_date}``, ``{booking_time}``, ``{service}``.
A kind without a text in the client's language falls back to English.
"""
from __future__ import annotations

from datetime import datetime

from .rules import DEFAULT_LANGUAGE

# kind -> language -> (subject, body); an SMS has no subject.
TEXTS: dict[str, dict[str, tuple[str | None, str]]] = {
    "no_answer_sms": {
        "en": (None, "Hi {first_name}, we tried to call you from {store_name}. We'd love to see you again: "
                     "{offer}. Reply STOP to opt out."),
        "pl": (None, "Dzień dobry, {first_name}! Dzwoniliśmy z {store_name}. Chętnie znów Cię zobaczymy: "
                     "{offer}. Odpowiedz STOP, aby zrezygnować."),
        "ru": (None, "{first_name}, здравствуйте! Мы звонили вам из {store_name}. Будем рады видеть вас снова: "
                     "{offer}. Ответьте СТОП, чтобы отписаться."),
        "ja": (None, "{last_name}様、{store_name}からお電話いたしました。またのご来店をお待ちしています：{offer}。"
                     "配信停止は「停止」と返信してください。"),
        "zh": (None, "{full_name}您好，{store_name}刚才给您打过电话。期待再次为您服务：{offer}。回复“退订”即可取消。"),
    },
    "letter_1": {
        "en": ("We miss you at {store_name}",
               "Dear {first_name},\n\nIt has been a while since your last visit to {store_name}, and we miss you. "
               "How was your last visit? If anything was not as it should have been, we would like to hear it.\n\n"
               "To welcome you back we have a special offer for you: {offer}. It is valid until {valid_until}.\n\n"
               "We look forward to seeing you,\nThe {store_name} team"),
        "pl": ("Tęsknimy za Tobą w {store_name}",
               "Droga/Drogi {first_name},\n\nMinęło trochę czasu od Twojej ostatniej wizyty w {store_name} "
               "i bardzo nam Ciebie brakuje. Jak oceniasz ostatnią wizytę? Jeśli coś było nie tak, "
               "chętnie o tym usłyszymy.\n\nNa powrót mamy dla Ciebie specjalną ofertę: {offer}. "
               "Jest ważna do {valid_until}.\n\nDo zobaczenia,\nZespół {store_name}"),
        "ru": ("Мы скучаем по вам — {store_name}",
               "{first_name}, здравствуйте!\n\nВы давно не заходили в {store_name}, и нам вас не хватает. "
               "Как прошёл ваш последний визит? Если что-то было не так, расскажите нам.\n\n"
               "Специально для вас: {offer}. Предложение действует до {valid_until}.\n\n"
               "Ждём вас,\nкоманда {store_name}"),
        "ja": ("{store_name}より：またお会いしたいです",
               "{last_name}様\n\nしばらく{store_name}にお越しいただいておらず、スタッフ一同さみしく思っております。"
               "前回のご来店はいかがでしたか。お気づきの点があれば、ぜひお聞かせください。\n\n"
               "お帰りなさいの特別なご案内：{offer}。有効期限は{valid_until}までです。\n\n"
               "またのご来店を心よりお待ちしております。\n{store_name} スタッフ一同"),
        "zh": ("{store_name}想念您",
               "{full_name}您好：\n\n您已经有一段时间没有光临{store_name}了，我们很想念您。"
               "上次的服务您满意吗？如有任何不足，欢迎告诉我们。\n\n"
               "为欢迎您回来，我们为您准备了专属优惠：{offer}，有效期至{valid_until}。\n\n"
               "期待您的光临！\n{store_name}全体员工"),
    },
    "letter_2": {
        "en": ("Your offer at {store_name} still stands — with a small gift",
               "Dear {first_name},\n\nYour welcome-back offer is still waiting for you: {offer}. "
               "Come before {valid_until} and we will add a small gift as a thank-you.\n\n"
               "See you soon,\nThe {store_name} team"),
        "pl": ("Twoja oferta w {store_name} wciąż czeka — z małym prezentem",
               "Droga/Drogi {first_name},\n\nTwoja oferta powitalna wciąż czeka: {offer}. "
               "Przyjdź do {valid_until}, a w podziękowaniu dołożymy mały prezent.\n\n"
               "Do zobaczenia,\nZespół {store_name}"),
        "ru": ("Ваше предложение в {store_name} в силе — и подарок в придачу",
               "{first_name}, здравствуйте!\n\nВаше предложение по-прежнему действует: {offer}. "
               "Приходите до {valid_until} — и получите от нас небольшой подарок.\n\n"
               "До встречи,\nкоманда {store_name}"),
        "ja": ("{store_name}：特典はまだ有効です（ささやかなプレゼント付き）",
               "{last_name}様\n\nお帰りなさい特典はまだご利用いただけます：{offer}。"
               "{valid_until}までにご来店いただくと、ささやかなプレゼントもお渡しします。\n\n"
               "お待ちしております。\n{store_name} スタッフ一同"),
        "zh": ("{store_name}：您的优惠仍然有效，另有小礼物",
               "{full_name}您好：\n\n您的回归优惠仍然有效：{offer}。"
               "在{valid_until}前到店，我们还将送您一份小礼物。\n\n"
               "期待与您相见！\n{store_name}全体员工"),
    },
    "letter_3": {
        "en": ("A free treatment for you at {store_name}",
               "Dear {first_name},\n\nWe would really like to welcome you back, so your next treatment "
               "at {store_name} is on us: one free express service of your choice, until {valid_until}.\n\n"
               "Just mention this letter when you book.\nThe {store_name} team"),
        "pl": ("Darmowy zabieg dla Ciebie w {store_name}",
               "Droga/Drogi {first_name},\n\nBardzo chcemy znów Cię gościć, dlatego kolejny zabieg "
               "w {store_name} jest na nasz koszt: jedna wybrana usługa ekspresowa gratis, do {valid_until}.\n\n"
               "Wystarczy wspomnieć o tym liście przy rezerwacji.\nZespół {store_name}"),
        "ru": ("Бесплатная процедура для вас в {store_name}",
               "{first_name}, здравствуйте!\n\nМы очень хотим снова вас увидеть, поэтому следующая процедура "
               "в {store_name} — за наш счёт: одна экспресс-услуга на ваш выбор бесплатно, до {valid_until}.\n\n"
               "Просто упомяните это письмо при записи.\nКоманда {store_name}"),
        "ja": ("{store_name}より：無料施術のご案内",
               "{last_name}様\n\nぜひもう一度お会いしたく、次回の施術を無料でご提供いたします。"
               "お好きなエクスプレスメニューをおひとつ、{valid_until}までご利用いただけます。\n\n"
               "ご予約の際にこのお手紙のことをお伝えください。\n{store_name} スタッフ一同"),
        "zh": ("{store_name}：送您一次免费护理",
               "{full_name}您好：\n\n我们非常希望再次为您服务，因此您的下一次护理由我们买单："
               "任选一项快捷护理，免费，有效期至{valid_until}。\n\n"
               "预约时提及此信即可。\n{store_name}全体员工"),
    },
    "booking_reminder": {
        "en": (None, "Hi {first_name}, a reminder of your {service} at {store_name} on {booking_date} at "
                     "{booking_time}. See you there! Reply STOP to opt out."),
        "pl": (None, "Dzień dobry, {first_name}! Przypominamy o wizycie ({service}) w {store_name} "
                     "{booking_date} o {booking_time}. Do zobaczenia! Odpowiedz STOP, aby zrezygnować."),
        "ru": (None, "{first_name}, напоминаем о записи ({service}) в {store_name} {booking_date} в "
                     "{booking_time}. Ждём вас! Ответьте СТОП, чтобы отписаться."),
        "ja": (None, "{last_name}様、{booking_date} {booking_time}より{store_name}で{service}のご予約です。"
                     "お待ちしております。配信停止は「停止」と返信してください。"),
        "zh": (None, "{full_name}您好，提醒您：{booking_date} {booking_time}在{store_name}预约了{service}。"
                     "期待您的光临！回复“退订”即可取消。"),
    },
}

GENERIC_OFFER = {
    "en": "15% off your next visit", "pl": "15% rabatu na następną wizytę",
    "ru": "скидка 15% на следующий визит", "ja": "次回ご来店時15%オフ", "zh": "下次到店享85折",
}
# The campaign offers that read naturally in a message; others use the generic offer.
OFFER_TEXT = {
    "free_trial": {"en": "a free trial card to collect in the salon", "pl": "darmowa karta próbna do odebrania w salonie",
                   "ru": "бесплатная пробная карта — заберите её в салоне", "ja": "店頭でお渡しする無料体験カード",
                   "zh": "到店领取免费体验卡"},
    "renewal_discount": {"en": "a discount on your renewal or package", "pl": "rabat na odnowienie lub pakiet",
                         "ru": "скидка на продление или абонемент", "ja": "更新・回数券の割引",
                         "zh": "续卡或套餐折扣"},
    "bring_a_friend": {"en": "bring a friend and both get 15% off", "pl": "przyjdź z osobą towarzyszącą — oboje macie 15% rabatu",
                       "ru": "приходите с другом — скидка 15% вам обоим", "ja": "ご友人とご一緒で、お二人とも15%オフ",
                       "zh": "携友同行，两人均享85折"},
    "free_redo": {"en": "a free re-do with another technician", "pl": "darmowa poprawka u innej stylistki",
                  "ru": "бесплатная переделка у другого мастера", "ja": "別のスタッフによる無料やり直し",
                  "zh": "由另一位技师免费重做"},
}

_SERVICE_DEFAULT = {"en": "appointment", "pl": "wizyta", "ru": "визит", "ja": "施術", "zh": "服务"}


def format_time(at: datetime, language: str) -> str:
    return at.strftime("%H:%M")


def offer_text(code: str | None, language: str) -> str:
    texts = OFFER_TEXT.get(code or "")
    if texts:
        return texts.get(language) or texts[DEFAULT_LANGUAGE]
    return GENERIC_OFFER.get(language) or GENERIC_OFFER[DEFAULT_LANGUAGE]


class _Blank(dict):
    def __missing__(self, key):
        return ""


def render(kind: str, language: str, **values) -> tuple[str, str | None, str]:
    """(language used, subject, body) for ``kind`` in ``language``, English when missing."""
    per_language = TEXTS[kind]
    used = language if language in per_language else DEFAULT_LANGUAGE
    subject, body = per_language[used]
    if not values.get("service"):
        values["service"] = _SERVICE_DEFAULT.get(used, _SERVICE_DEFAULT[DEFAULT_LANGUAGE])
    fill = _Blank({k: ("" if v is None else str(v)) for k, v in values.items()})
    return used, (subject.format_map(fill) if subject else None), body.format_map(fill)
