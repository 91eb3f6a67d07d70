"""Which fonts the PDF renderer can use: Latin and CJK, asked of fontconfig.

WeasyPrint lays text out with Pango, which finds fonts through fontconfig. Without a CJK font
it does not fail: every Chinese character becomes an empty box and the PDF looks fine to a
program. So before a PDF with Chinese text is made (``--lang zh``, or Chinese names in the
data), ``require_fonts`` asks fontconfig for a font that covers Chinese and, without one,
stops with one line that names the package to install (``fonts-noto-cjk``). ``gpureport
doctor`` shows the same answer for Latin and CJK.

Why ctypes on ``libfontconfig`` rather than running ``fc-list``: the library is already there
wherever WeasyPrint works (Pango needs it), while ``fc-list`` is in Debian's separate
``fontconfig`` package that slim images leave out. Each question builds a fresh fontconfig
configuration, so ``FONTCONFIG_FILE`` is honoured as it is when the question is asked.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from dataclasses import dataclass

from agent.errors import ReportError

CJK_PACKAGE = "fonts-noto-cjk"
LATIN_PACKAGE = "fonts-dejavu-core"
# the report CSS's font stack (templates/partials/style.css.j2), named first when present
PREFERRED = ("Noto Sans", "Noto Sans CJK SC", "DejaVu Sans")
# Han ideographs (with extension A and compatibility forms), kana, Hangul, CJK punctuation:
# text a Latin font cannot draw
_CJK = re.compile("[\u2e80-\u2fdf\u3000-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
                  "\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds characters only a CJK font draws."""
    return _CJK.search(text) is not None


class _FontSet(ctypes.Structure):
    _fields_ = [("nfont", ctypes.c_int), ("sfont", ctypes.c_int),
                ("fonts", ctypes.POINTER(ctypes.c_void_p))]


def _library() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("fontconfig") or "libfontconfig.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.FcInitLoadConfigAndFonts.restype = ctypes.c_void_p
    lib.FcNameParse.restype = ctypes.c_void_p
    lib.FcNameParse.argtypes = [ctypes.c_char_p]
    lib.FcObjectSetBuild.restype = ctypes.c_void_p
    lib.FcFontList.restype = ctypes.POINTER(_FontSet)
    lib.FcFontList.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.FcPatternGetString.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                       ctypes.POINTER(ctypes.c_char_p)]
    for fn in ("FcFontSetDestroy", "FcObjectSetDestroy", "FcPatternDestroy", "FcConfigDestroy"):
        getattr(lib, fn).argtypes = [ctypes.c_void_p]
    return lib


def families(lang: str) -> list[str] | None:
    """The font families fontconfig offers for ``lang`` (``en``, ``zh``), sorted; None when
    fontconfig itself is not installed."""
    lib = _library()
    if lib is None:
        return None
    config = lib.FcInitLoadConfigAndFonts()
    pattern = lib.FcNameParse(f":lang={lang}".encode())
    objects = lib.FcObjectSetBuild(b"family", None)
    found: set[str] = set()
    fonts = lib.FcFontList(config, pattern, objects)
    try:
        if fonts:
            for i in range(fonts.contents.nfont):
                value = ctypes.c_char_p()
                if lib.FcPatternGetString(fonts.contents.fonts[i], b"family", 0,
                                          ctypes.byref(value)) == 0 and value.value:
                    found.add(value.value.decode("utf-8", "replace"))
    finally:
        if fonts:
            lib.FcFontSetDestroy(ctypes.cast(fonts, ctypes.c_void_p))
        lib.FcObjectSetDestroy(objects)
        lib.FcPatternDestroy(pattern)
        if config:
            lib.FcConfigDestroy(config)
    return sorted(found)


@dataclass(frozen=True)
class FontCheck:
    """What fontconfig offers for one script: the families, and the package that adds some."""

    script: str  # Latin | CJK
    families: list[str] | None  # None: fontconfig is not installed
    package: str

    @property
    def ok(self) -> bool:
        return bool(self.families)

    def line(self) -> str:
        """``CJK: Noto Sans CJK SC, ... (12 families)`` or what is missing and how to add it."""
        if self.families is None:
            return f"{self.script}: fontconfig (libfontconfig1) is not installed"
        if not self.families:
            return f"{self.script}: no font found (install {self.package})"
        ranked = sorted(self.families, key=lambda f: (f not in PREFERRED,
                                                      PREFERRED.index(f) if f in PREFERRED else 0,
                                                      f))
        shown = ", ".join(ranked[:3])
        more = f", … ({len(self.families)} families)" if len(self.families) > 3 else ""
        return f"{self.script}: {shown}{more}"


def check_fonts() -> list[FontCheck]:
    """Latin and CJK fonts as fontconfig sees them now (``gpureport doctor``)."""
    return [FontCheck("Latin", families("en"), LATIN_PACKAGE),
            FontCheck("CJK", families("zh"), CJK_PACKAGE)]


def require_fonts(html: str) -> None:
    """Raise ``ReportError`` (one line naming the package) when ``html`` holds Chinese text and
    no installed font can draw it: a PDF of empty boxes is worse than no PDF."""
    if not has_cjk(html):
        return
    found = families("zh")
    if found is None or found:  # no fontconfig: WeasyPrint itself fails, with its own message
        return
    raise ReportError(f"the PDF has Chinese text but no CJK font is installed: install "
                      f"{CJK_PACKAGE} (apt-get install {CJK_PACKAGE}); HTML output does not "
                      "need it")


__all__ = ["has_cjk", "families", "check_fonts", "require_fonts", "FontCheck", "CJK_PACKAGE",
           "LATIN_PACKAGE"]
