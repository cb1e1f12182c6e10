"""The shipped win-back script in English (the base language)."""

TEXTS = {
    "steps": {
        "greeting": {
            "title": "Greeting",
            "text": "Good afternoon, {first_name}! This is {agent_name} from {store_name}. "
                    "Do you have a couple of minutes to talk?",
            "question": "Is now a good time?",
            "answers": {"yes": "Yes, now is fine", "no": "No, not now"},
        },
        "introduce": {
            "title": "Introduce yourself",
            "text": "I look after our clients at {store_name}. I can see that on {last_visit_date} you came to "
                    "us for {last_service}. How that visit went for you really matters to us.",
        },
        "thanks": {
            "title": "Thank them",
            "text": "Thank you for having chosen us. It means a lot to the whole team.",
        },
        "reason": {
            "title": "Ask what made them stop coming",
            "text": "We haven't seen you for a while, and we would honestly like to know why. "
                    "Was there anything that made you stop coming? "
                    "[Listen to the end without interrupting or defending. Note the reason.]",
            "question": "What made you stop coming?",
        },
        "apology": {
            "title": "Apologise and make it right",
            "text": "I am truly sorry that happened, and thank you for telling me. We took it seriously and "
                    "have made changes since. To make it up to you, we would like to offer {offer}. "
                    "[Say what has changed; the remedy for the reason is shown below.]",
        },
        "news": {
            "title": "Tell them what's new",
            "text": "Quite a lot has changed since your last visit: new services, new technicians and a "
                    "freshly renovated salon. Right now we also have {offer} for you.",
        },
        "booking": {
            "title": "Offer a booking",
            "text": "Shall I find a time for you? I could do Saturday at twelve, or would the afternoon suit "
                    "you better? [Offer two concrete options. Thank them whatever the answer; "
                    "never argue or press.]",
            "question": "Would you like to book?",
            "answers": {"book": "Yes, book a time", "think": "I'll think about it / get back to you",
                        "decline": "No, thank you"},
        },
        "follow_up": {
            "title": "Ask about following up",
            "text": "Of course. Shall I give you a call myself, so it doesn't slip your mind?",
            "question": "May we contact you again?",
            "answers": {"yes": "Yes, please", "no": "No, it's fine"},
        },
        "close": {
            "title": "Thank and close",
            "text": "Thank you so much for your time, {first_name}. Have a lovely day, and we hope to see you "
                    "at {store_name} again soon.",
        },
        "callback": {
            "title": "Agree a time to call back",
            "text": "Of course. When would be a better time for me to call you back? "
                    "[Agree a day and time and set the callback.] Thank you, speak to you then.",
        },
    },
    "reasons": {
        "parking": ("Hard to park or get there",
                    "Offer to pay back the taxi fare and suggest a quiet hour when parking is easier."),
        "moved": ("Moved house or job",
                  "Offer a home visit where we do them; otherwise ask whether we may keep in touch with "
                  "greetings and news."),
        "service": ("The service fell short",
                    "Apologise sincerely and offer a free premium treatment to give us another chance; pass the "
                    "cause (cleanliness, room, waiting) on to the manager."),
        "technique": ("Unhappy with the technician",
                      "Offer a free re-do with a different or newly re-certified technician of their choice."),
        "mismatch": ("We don't offer what they want",
                     "Tell them about the new services that match what they are looking for."),
        "pushy_sales": ("Felt pressured to buy",
                        "Apologise, promise there will be no selling during their visits, and offer a small "
                        "gift."),
        "price": ("Found it cheaper elsewhere",
                  "Offer the renewal discount, a package price or loyalty points."),
        "policy": ("Employer or rules restrict it",
                   "Offer an appointment at home or at a time that fits around their working hours."),
        "personal": ("Busy, health or family",
                     "Share the news and current offers, and agree when they would like to hear from us "
                     "again."),
        "other": ("Something else", "Write down what they said, in their own words."),
    },
    "objections": {
        "too_expensive": ("It's too expensive.",
                          "I understand. Many of our regulars choose a package, which brings the price of each "
                          "visit down, and right now we can also offer {offer}. Shall I tell you more?"),
        "no_time": ("I don't have time.",
                    "I completely understand. We can find a time that suits you: early morning, evening or "
                    "the weekend, and the treatment itself takes under an hour. Which days are usually "
                    "easier for you?"),
        "some_day": ("I'll come some day.",
                     "That would be lovely. So it doesn't slip your mind, shall I pencil you in for a day that "
                     "suits you? It is easy to move if your plans change."),
        "how_number": ("How did you get my number?",
                       "You gave it to us as a client of {store_name}. If you would rather we didn't call, "
                       "I will note it right away and we won't call again."),
        "elsewhere": ("I go to another salon now.",
                      "Thank you for telling me, that's completely fine. If you ever want to compare, we'd be "
                      "glad to welcome you back with {offer}."),
    },
    "neutral": {"first_name": "", "agent_name": "your adviser", "store_name": "our salon",
                "last_service": "a treatment", "last_visit_date": "your last visit", "days_since": "",
                "offer": "a special offer for returning clients"},
    "offers": {
        "new_service": "a new service to try", "renovation": "an invitation to see the renovated salon",
        "new_staff": "a chance to meet our new technicians",
        "free_trial": "a free trial card to collect in store",
        "talk_it_over": "a visit to talk over what went wrong",
        "renewal_discount": "a renewal or package discount", "bring_a_friend": "a bring-a-friend invitation",
        "holiday_greeting": "a holiday greeting with a small gift",
        "free_redo": "a free re-do with another technician",
    },
    "sample": {"first_name": "Emma", "store_name": "City Centre Spa", "last_service": "hot stone massage"},
}
