"""The currencies revenue may be kept in: ISO 4217's active codes.

Revenue is kept in one field per currency (``revenue_cents:EUR``), so the
currencies accepted bound the fields of a promotion's day: three capital letters
alone would allow 17,576. This is ISO 4217 list one (current currency and funds
codes, precious metals and the special codes), as amended to 2026: Croatia's
``HRK``, Bulgaria's ``BGN`` (both for the euro), Sierra Leone's ``SLL``,
Zimbabwe's ``ZWL``, the Cuban convertible peso ``CUC`` and the Netherlands
Antillean ``ANG`` are withdrawn; ``SLE``, ``VED``, ``ZWG``, the Caribbean guilder
``XCG`` and the Arab Accounting Dinar ``XAD`` are in. (Checked against pycountry
26.2.16's copy of the list.)
"""

from __future__ import annotations

#: The active ISO 4217 alphabetic codes.
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL
    BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK
    DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD
    HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD
    KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL
    THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES
    VND VUV WST XAD XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU
    XTS XUA XXX YER ZAR ZMW ZWG
    """.split()
)


def is_currency(value: object) -> bool:
    """Whether *value* is an active ISO 4217 code (``"EUR"``; not ``"eur"``)."""
    return isinstance(value, str) and value in ISO_4217
