"""The reference table behind `cellstream.network.operators`: real countries and mobile operators.

Only data lives here; `operators.py` turns the rows into `Country` and `Operator` objects and says
where the values come from and what the ids mean. Rows are plain tuples so this module imports nothing.

Editing rules (the tests check all but the first):
- ids are stable once published (stored events keep them): never renumber; new rows take fresh ids;
- an MNC is written exactly as registered (2 or 3 digits), and a TADIG code starts with the
  ISO 3166-1 alpha-3 code of the operator's country;
- a country has one row per MCC: an operator whose PLMN sits under a second MCC of the same country
  (USA 311, India 405, ...) hangs off that MCC's row, just as emnify lists `United States (311)`.
"""

from __future__ import annotations

# id, name, iso_code, mcc, country_code, latitude, longitude, geographic
CountryRow = tuple[int, str, str, str, str, float, float, bool]
# id, name, mcc of its country row, ((mnc entry id, mnc), ...), ((tapcode entry id, tapcode), ...)
OperatorRow = tuple[int, str, str, tuple[tuple[int, str], ...], tuple[tuple[int, str], ...]]

COUNTRIES: tuple[CountryRow, ...] = (
    # id, name, iso_code, mcc, country_code, latitude, longitude, geographic
    (36, "Australia", "au", "505", "61", -27.0, 133.0, True),
    (40, "Austria", "at", "232", "43", 47.333333, 13.333333, True),
    (56, "Belgium", "be", "206", "32", 50.833333, 4.0, True),
    (76, "Brazil", "br", "724", "55", -10.0, -55.0, True),
    (124, "Canada", "ca", "302", "1", 60.0, -95.0, True),
    (203, "Czechia", "cz", "230", "420", 49.75, 15.5, True),
    (208, "Denmark", "dk", "238", "45", 56.0, 10.0, True),
    (246, "Finland", "fi", "244", "358", 64.0, 26.0, True),
    (250, "France", "fr", "208", "33", 46.0, 2.0, True),
    (74, "Germany", "de", "262", "49", 51.0, 9.0, True),
    (356, "India", "in", "404", "91", 20.0, 77.0, True),
    (1405, "India MCC 405", "in", "405", "91", 20.0, 77.0, False),
    (372, "Ireland", "ie", "272", "353", 53.0, -8.0, True),
    (380, "Italy", "it", "222", "39", 42.833333, 12.833333, True),
    (392, "Japan", "jp", "440", "81", 36.0, 138.0, True),
    (484, "Mexico", "mx", "334", "52", 23.0, -102.0, True),
    (528, "Netherlands", "nl", "204", "31", 52.5, 5.75, True),
    (578, "Norway", "no", "242", "47", 62.0, 10.0, True),
    (616, "Poland", "pl", "260", "48", 52.0, 20.0, True),
    (620, "Portugal", "pt", "268", "351", 39.5, -8.0, True),
    (710, "South Africa", "za", "655", "27", -29.0, 24.0, True),
    (410, "South Korea", "kr", "450", "82", 37.0, 127.5, True),
    (724, "Spain", "es", "214", "34", 40.0, -4.0, True),
    (752, "Sweden", "se", "240", "46", 62.0, 15.0, True),
    (756, "Switzerland", "ch", "228", "41", 47.0, 8.0, True),
    (792, "Turkey", "tr", "286", "90", 39.0, 35.0, True),
    (784, "United Arab Emirates", "ae", "424", "971", 24.0, 54.0, True),
    (826, "United Kingdom", "gb", "234", "44", 54.0, -2.0, True),
    (840, "United States", "us", "310", "1", 38.0, -97.0, True),
    (1311, "United States (311)", "us", "311", "1", 38.0, -97.0, False),
)

OPERATORS: tuple[OperatorRow, ...] = (
    # id, name, mcc, ((mnc id, mnc), ...), ((tapcode id, tapcode), ...)
    # Australia
    (10, "Telstra", "505", ((10, "01"),), ((10, "AUSTA"),)),
    (11, "Optus", "505", ((11, "02"),), ((11, "AUSOP"),)),
    (12, "Vodafone", "505", ((12, "03"),), ((12, "AUSVF"),)),
    # Austria
    (13, "A1", "232", ((13, "01"),), ((13, "AUTPT"),)),
    (14, "Magenta", "232", ((14, "03"),), ((14, "AUTMM"),)),
    (15, "Drei", "232", ((15, "05"),), ((15, "AUTCA"),)),
    # Belgium
    (16, "Proximus", "206", ((16, "01"),), ((16, "BELTB"),)),
    (17, "Orange", "206", ((17, "10"),), ((17, "BELMO"),)),
    (18, "BASE", "206", ((18, "20"),), ((18, "BELKO"),)),
    # Brazil
    (19, "TIM", "724", ((19, "02"), (20, "03"), (21, "04")), ((19, "BRARN"), (20, "BRASP"), (21, "BRACS"))),
    (20, "Claro", "724", ((22, "05"),), ((22, "BRACL"),)),
    (21, "Vivo", "724",
     ((23, "06"), (24, "10"), (25, "11"), (26, "23")),
     ((23, "BRAV2"), (24, "BRAV1"), (25, "BRAV3"), (26, "BRATC"))),
    # Canada
    (22, "Telus", "302", ((27, "220"),), ((27, "CANTS"),)),
    (23, "Bell", "302", ((28, "610"),), ((28, "CANBM"),)),
    (24, "Rogers", "302", ((29, "720"),), ((29, "CANRW"),)),
    # Czechia
    (25, "T-Mobile", "230", ((30, "01"),), ((30, "CZERM"),)),
    (26, "O2", "230", ((31, "02"),), ((31, "CZEET"),)),
    (27, "Vodafone", "230", ((32, "03"),), ((32, "CZECM"),)),
    # Denmark
    (28, "TDC", "238", ((33, "01"),), ((33, "DNKTD"),)),
    (29, "Telenor", "238", ((34, "02"),), ((34, "DNKDM"),)),
    (30, "3", "238", ((35, "06"),), ((35, "DNKHU"),)),
    (31, "Telia", "238", ((36, "20"),), ((36, "DNKIA"),)),
    # Finland
    (32, "Elisa", "244", ((37, "05"),), ((37, "FINRL"),)),
    (33, "DNA", "244", ((38, "12"),), ((38, "FIN2G"),)),
    (34, "Telia", "244", ((39, "91"),), ((39, "FINTF"),)),
    # France
    (35, "Orange", "208", ((40, "01"),), ((40, "FRAF1"),)),
    (36, "SFR", "208", ((41, "10"),), ((41, "FRAF2"),)),
    (37, "Bouygues Telecom", "208", ((42, "20"),), ((42, "FRAF3"),)),
    (38, "Free Mobile", "208", ((43, "15"),), ((43, "FRAFM"),)),
    # Germany: ids 1, 3, 5 and their entry ids are emnify's own (see operators.py); 262 03 / DEUE1
    # were E-Plus's, part of Telefonica O2 since the 2014 merger (emnify still lists "EPlus" as 4)
    (1, "Telekom", "262", ((1, "01"),), ((1, "DEUD1"),)),
    (3, "Vodafone", "262", ((3, "02"),), ((2, "DEUD2"),)),
    (5, "Telefonica O2", "262", ((5, "07"), (6, "03")), ((3, "DEUE2"), (4, "DEUE1"))),
    # India: MNCs and TADIG codes are per licence circle, so each row is one operator in one circle
    (39, "Airtel (Delhi)", "404", ((44, "10"),), ((44, "INDAT"),)),
    (40, "Vodafone Idea (Delhi)", "404", ((45, "11"),), ((45, "INDE1"),)),
    # India MCC 405
    (41, "Jio (Delhi)", "405", ((46, "872"),), ((46, "INDJV"),)),
    # Ireland
    (42, "Vodafone", "272", ((47, "01"),), ((47, "IRLEC"),)),
    (43, "eir", "272", ((48, "03"),), ((48, "IRLME"),)),
    (44, "Three", "272", ((49, "05"), (50, "02")), ((49, "IRLH3"), (50, "IRLDF"))),
    # Italy
    (45, "TIM", "222", ((51, "01"),), ((51, "ITASI"),)),
    (46, "Vodafone", "222", ((52, "10"),), ((52, "ITAOM"),)),
    (47, "WindTre", "222", ((53, "88"), (54, "99")), ((53, "ITAWI"), (54, "ITAH3"))),
    (48, "Iliad", "222", ((55, "50"),), ((55, "ITAFM"),)),
    # Japan
    (49, "NTT docomo", "440", ((56, "10"),), ((56, "JPNDO"),)),
    (50, "SoftBank", "440", ((57, "20"),), ((57, "JPNJP"),)),
    (51, "au (KDDI)", "440", ((58, "51"),), ((58, "JPNKI"),)),
    # Mexico
    (52, "Telcel", "334", ((59, "020"),), ((59, "MEXTL"),)),
    (53, "Movistar", "334", ((60, "030"),), ((60, "MEXMS"),)),
    (54, "AT&T", "334", ((61, "050"),), ((61, "MEXIU"),)),
    # Netherlands
    (55, "KPN", "204", ((62, "08"),), ((62, "NLDPT"),)),
    (56, "Vodafone", "204", ((63, "04"),), ((63, "NLDLT"),)),
    (57, "Odido", "204", ((64, "16"),), ((64, "NLDPN"),)),
    # Norway: NORNC (NetCom, now Telia Norge) comes from one roaming list, matching 242 02's history
    (58, "Telenor", "242", ((65, "01"),), ((65, "NORTM"),)),
    (59, "Telia", "242", ((66, "02"),), ((66, "NORNC"),)),
    # Poland
    (60, "Plus", "260", ((67, "01"),), ((67, "POLKM"),)),
    (61, "T-Mobile", "260", ((68, "02"),), ((68, "POL02"),)),
    (62, "Orange", "260", ((69, "03"),), ((69, "POL03"),)),
    (63, "Play", "260", ((70, "06"),), ((70, "POLP4"),)),
    # Portugal
    (64, "Vodafone", "268", ((71, "01"),), ((71, "PRTTL"),)),
    (65, "NOS", "268", ((72, "03"),), ((72, "PRTOP"),)),
    (66, "MEO", "268", ((73, "06"),), ((73, "PRTTM"),)),
    # South Africa
    (67, "Vodacom", "655", ((74, "01"),), ((74, "ZAFVC"),)),
    (68, "Cell C", "655", ((75, "07"),), ((75, "ZAFCC"),)),
    (69, "MTN", "655", ((76, "10"),), ((76, "ZAFMN"),)),
    # South Korea
    (70, "SK Telecom", "450", ((77, "05"),), ((77, "KORSK"),)),
    (71, "LG U+", "450", ((78, "06"),), ((78, "KORLU"),)),
    (72, "KT", "450", ((79, "08"),), ((79, "KORKF"),)),
    # Spain
    (73, "Movistar", "214", ((80, "07"),), ((80, "ESPTE"),)),
    (74, "Vodafone", "214", ((81, "01"),), ((81, "ESPAT"),)),
    (75, "Orange", "214", ((82, "03"),), ((82, "ESPRT"),)),
    (76, "Yoigo", "214", ((83, "04"),), ((83, "ESPXF"),)),
    # Sweden
    (77, "Telia", "240", ((84, "01"),), ((84, "SWETR"),)),
    (78, "Tre", "240", ((85, "02"),), ((85, "SWEHU"),)),
    (79, "Tele2", "240", ((86, "07"),), ((86, "SWEIQ"),)),
    (80, "Telenor", "240", ((87, "08"),), ((87, "SWEEP"),)),
    # Switzerland
    (81, "Swisscom", "228", ((88, "01"),), ((88, "CHEC1"),)),
    (82, "Sunrise", "228", ((89, "02"),), ((89, "CHEDX"),)),
    (83, "Salt", "228", ((90, "03"),), ((90, "CHEOR"),)),
    # Turkey
    (84, "Turkcell", "286", ((91, "01"),), ((91, "TURTC"),)),
    (85, "Vodafone", "286", ((92, "02"),), ((92, "TURTS"),)),
    (86, "Türk Telekom", "286", ((93, "03"),), ((93, "TURIS"),)),
    # United Arab Emirates
    (87, "e& (Etisalat)", "424", ((94, "02"),), ((94, "ARETC"),)),
    (88, "du", "424", ((95, "03"),), ((95, "AREDU"),)),
    # United Kingdom: EE runs T-Mobile's 234 30 and Orange's 234 33; only GBRME is double-sourced
    (89, "O2", "234", ((96, "10"),), ((96, "GBRCN"),)),
    (90, "Vodafone", "234", ((97, "15"),), ((97, "GBRVF"),)),
    (91, "EE", "234", ((98, "30"), (99, "33")), ((98, "GBRME"),)),
    (92, "Three", "234", ((100, "20"),), ((99, "GBRHU"),)),
    # United States
    (93, "AT&T", "310", ((101, "410"),), ((100, "USACG"),)),
    (94, "T-Mobile", "310", ((102, "260"),), ((101, "USAW6"),)),
    # United States (311): Verizon's LTE network is 311 480 (310 480 is another carrier entirely)
    (95, "Verizon Wireless", "311", ((103, "480"),), ((102, "USAVZ"),)),
)
