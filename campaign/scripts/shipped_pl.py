"""The shipped win-back script in Polish (forms of address: Pani/Pan)."""

TEXTS = {
    "steps": {
        "greeting": {
            "title": "Powitanie",
            "text": "Dzień dobry, czy to Pani/Pan {first_name}? Z tej strony {agent_name}, dzwonię z salonu "
                    "{store_name}. Czy ma Pani/Pan teraz chwilę na rozmowę?",
            "question": "Czy to dobry moment na rozmowę?",
            "answers": {"yes": "Tak, mogę rozmawiać", "no": "Nie, teraz nie mogę"},
        },
        "introduce": {
            "title": "Przedstawienie się",
            "text": "Zajmuję się opieką nad klientami naszego salonu. Widzę, że ostatnio była Pani / był Pan u nas "
                    "{last_visit_date} – {last_service}. Bardzo zależy nam na tym, jak ocenia Pani/Pan tamtą "
                    "wizytę.",
        },
        "thanks": {
            "title": "Podziękowanie",
            "text": "Dziękujemy, że wybrała nas Pani / wybrał nas Pan – to dla całego zespołu bardzo ważne.",
        },
        "reason": {
            "title": "Pytanie o powód",
            "text": "Dawno nie mieliśmy przyjemności Pani/Pana gościć i chcielibyśmy zrozumieć dlaczego. Czy coś "
                    "sprawiło, że przestała Pani / przestał Pan nas odwiedzać? [Proszę wysłuchać do końca, nie "
                    "przerywać i nie tłumaczyć się. Zanotować powód.]",
            "question": "Dlaczego przestała Pani / przestał Pan do nas przychodzić?",
        },
        "apology": {
            "title": "Przeprosiny i zadośćuczynienie",
            "text": "Bardzo przepraszam za tę sytuację i dziękuję, że Pani/Pan o tym mówi. Potraktowaliśmy to "
                    "poważnie i od tego czasu wiele się zmieniło. W ramach przeprosin chcielibyśmy zaproponować: "
                    "{offer}. [Proszę powiedzieć, co konkretnie się zmieniło, i zaproponować rozwiązanie "
                    "podane poniżej.]",
        },
        "news": {
            "title": "Nowości",
            "text": "Od Pani/Pana ostatniej wizyty sporo się u nas zmieniło: mamy nowe zabiegi, nowych "
                    "specjalistów i odnowiony salon. Teraz mamy też dla Pani/Pana specjalną propozycję: {offer}.",
        },
        "booking": {
            "title": "Propozycja wizyty",
            "text": "Czy mogę zaproponować termin? Pasowałaby Pani/Panu sobota o 12:00, czy raczej popołudnie? "
                    "[Proszę podać dwie konkretne propozycje. Podziękować niezależnie od odpowiedzi; nie spierać "
                    "się i nie naciskać.]",
            "question": "Czy umówić wizytę?",
            "answers": {"book": "Tak, umawiam się", "think": "Zastanowię się / odezwę się",
                        "decline": "Nie, dziękuję"},
        },
        "follow_up": {
            "title": "Kontakt w przyszłości",
            "text": "Oczywiście. Żeby nie umknęło to Pani/Panu, czy mogę sam(a) zadzwonić nieco później?",
            "question": "Czy możemy się później odezwać?",
            "answers": {"yes": "Tak, poproszę", "no": "Nie, nie trzeba"},
        },
        "close": {
            "title": "Podziękowanie i pożegnanie",
            "text": "Bardzo dziękuję za rozmowę i poświęcony czas. Życzę miłego dnia i mam nadzieję, że wkrótce "
                    "znów zobaczymy Panią/Pana w salonie {store_name}.",
        },
        "callback": {
            "title": "Ustalenie ponownego kontaktu",
            "text": "Oczywiście. Kiedy mogę zadzwonić ponownie, żeby było Pani/Panu wygodnie? [Proszę ustalić "
                    "dzień i godzinę i zaplanować oddzwonienie.] Dziękuję, w takim razie do usłyszenia!",
        },
    },
    "reasons": {
        "parking": ("Trudno zaparkować lub dojechać",
                    "Zaproponować zwrot kosztów taksówki i wizytę w spokojnej godzinie, gdy łatwiej o parking."),
        "moved": ("Przeprowadzka lub zmiana pracy",
                  "Zaproponować wizytę domową, jeśli ją oferujemy; w przeciwnym razie zapytać, czy możemy wysyłać "
                  "życzenia i nowości."),
        "service": ("Obsługa poniżej oczekiwań",
                    "Szczerze przeprosić i zaproponować bezpłatny zabieg premium, by dać nam drugą szansę; "
                    "przekazać przyczynę (czystość, gabinet, czekanie) kierownikowi."),
        "technique": ("Niezadowolenie z pracy specjalisty",
                      "Zaproponować bezpłatną poprawkę u innego specjalisty lub u osoby po ponownej certyfikacji."),
        "mismatch": ("Nie mamy tego, czego szuka", "Opowiedzieć o nowych usługach, które odpowiadają potrzebom."),
        "pushy_sales": ("Presja sprzedażowa",
                        "Przeprosić, obiecać, że podczas wizyt nie będzie żadnej sprzedaży, i zaproponować drobny "
                        "upominek."),
        "price": ("Taniej gdzie indziej", "Zaproponować rabat na kontynuację, karnet lub punkty lojalnościowe."),
        "policy": ("Ograniczenia pracodawcy lub zasady",
                   "Zaproponować wizytę w domu lub termin dopasowany do godzin pracy."),
        "personal": ("Brak czasu, zdrowie, rodzina",
                     "Przekazać nowości i aktualne oferty oraz ustalić, kiedy możemy się ponownie odezwać."),
        "other": ("Inny powód", "Zanotować powód słowami klienta."),
    },
    "objections": {
        "too_expensive": ("To za drogo.",
                          "Rozumiem. Wielu stałych klientów wybiera karnet – wtedy każda wizyta wychodzi taniej. "
                          "Teraz mamy też dla Pani/Pana propozycję: {offer}. Czy mogę opowiedzieć więcej?"),
        "no_time": ("Nie mam czasu.",
                    "Doskonale rozumiem. Dopasujemy termin do Pani/Pana – rano, wieczorem albo w weekend, a sam "
                    "zabieg trwa krócej niż godzinę. Które dni są zwykle dla Pani/Pana wygodniejsze?"),
        "some_day": ("Kiedyś przyjdę.",
                     "Bardzo się cieszę! Żeby nie umknęło, czy mogę wstępnie zarezerwować dogodny dla Pani/Pana "
                     "dzień? Termin łatwo potem zmienić."),
        "how_number": ("Skąd macie mój numer?",
                       "Otrzymaliśmy go od Pani/Pana podczas wizyty w salonie {store_name}. Jeśli woli Pani/Pan, "
                       "żebyśmy nie dzwonili, od razu to zanotuję i nie będziemy więcej dzwonić."),
        "elsewhere": ("Chodzę teraz do innego salonu.",
                      "Dziękuję, że Pani/Pan o tym mówi – to zupełnie zrozumiałe. Gdyby chciała Pani / chciał Pan "
                      "kiedyś porównać, chętnie znów Panią/Pana ugościmy, a czeka na Panią/Pana: {offer}."),
    },
    "neutral": {"first_name": "", "agent_name": "konsultant salonu", "store_name": "", "last_service": "zabieg",
                "last_visit_date": "jakiś czas temu", "days_since": "", "offer": "specjalna oferta powitalna"},
    "offers": {
        "new_service": "nowy zabieg do wypróbowania", "renovation": "zaproszenie do odnowionego salonu",
        "new_staff": "poznanie naszych nowych specjalistów",
        "free_trial": "bezpłatna karta próbna do odebrania w salonie",
        "talk_it_over": "spotkanie, by omówić, co poszło nie tak",
        "renewal_discount": "rabat na kontynuację lub karnet",
        "bring_a_friend": "zaproszenie dla przyjaciółki lub przyjaciela",
        "holiday_greeting": "świąteczne życzenia z drobnym upominkiem",
        "free_redo": "bezpłatna poprawka u innego specjalisty",
    },
    "sample": {"first_name": "Anna", "store_name": "Mokotów", "last_service": "masaż relaksacyjny"},
}
