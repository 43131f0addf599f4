#!/usr/bin/env python3
"""Reference data for the Go package cliplib/tokenizer, made with the real Python tokenizer.

Run from the repository root with the reference environment (it installs nothing):

    /root/refenv/bin/python tools/reference/make_tokenizer_fixtures.py           # fixtures + tables
    /root/refenv/bin/python tools/reference/make_tokenizer_fixtures.py --fixtures
    /root/refenv/bin/python tools/reference/make_tokenizer_fixtures.py --tables

It writes:

  testdata/tokenizer/reference.jsonl  curated strings, one JSON object a line:
        {"cat": category, "text": input, "fixed": ftfy.fix_text(input),
         "clean": the cleaned lower-cased text the BPE sees, "ids": open_clip ids (context 77)}
  testdata/tokenizer/random.jsonl     the same fields for seeded random strings (mixed scripts,
                                      HTML entities, mojibake made with the codecs ftfy repairs)
  testdata/tokenizer/python_ccc.txt   "hex ccc" for every code point with a non-zero canonical
                                      combining class in this Python's unicodedata (for the NFC
                                      version check in the Go tests)
  cliplib/tokenizer/tables_gen.go     Unicode/HTML/codec tables exactly as this Python, `regex`
                                      and ftfy see them (see the Go file's header)

The ids come from open_clip.tokenizer.SimpleTokenizer (open_clip_torch 3.3.0) with the real ftfy
6.3.1, so every ftfy default fix (mojibake repair included) is part of the reference.
"""

import argparse
import gzip
import hashlib
import html
import html.entities
import json
import os
import random
import shutil
import subprocess
import sys
import unicodedata

import ftfy
import ftfy.badness
import ftfy.chardata
import open_clip
import regex
from open_clip.tokenizer import SimpleTokenizer, _clean_lower

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TESTDATA = os.path.join(ROOT, "testdata", "tokenizer")
TABLES_GO = os.path.join(ROOT, "cliplib", "tokenizer", "tables_gen.go")
VOCAB_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"

# ----------------------------------------------------------------------------------------------
# Curated strings.

CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

CIFAR_TEMPLATES = [
    "a photo of a {}.", "a blurry photo of a {}.", "a black and white photo of a {}.",
    "a low contrast photo of a {}.", "a high contrast photo of a {}.", "a bad photo of a {}.",
    "a good photo of a {}.", "a photo of a small {}.", "a photo of a big {}.", "a photo of the {}.",
    "a blurry photo of the {}.", "a black and white photo of the {}.",
    "a low contrast photo of the {}.", "a high contrast photo of the {}.",
    "a bad photo of the {}.", "a good photo of the {}.", "a photo of the small {}.",
    "a photo of the big {}.",
]

CIFAR100_SOME = [
    "aquarium fish", "lawn mower", "maple tree", "oak tree", "palm tree", "pickup truck",
    "pine tree", "sweet pepper", "willow tree", "caterpillar", "chimpanzee", "cockroach",
    "crocodile", "kangaroo", "porcupine", "skyscraper", "streetcar", "sunflower", "television",
    "wardrobe",
]

IMAGENET_NAMES = [
    "tench", "goldfish", "great white shark", "tiger shark", "hammerhead shark", "electric ray",
    "cock", "hen", "ostrich", "brambling", "goldfinch", "house finch", "junco", "indigo bunting",
    "American robin", "bulbul", "jay", "magpie", "chickadee", "American dipper", "kite (bird of prey)",
    "bald eagle", "vulture", "great grey owl", "fire salamander", "smooth newt", "newt",
    "spotted salamander", "axolotl", "American bullfrog", "tree frog", "tailed frog",
    "loggerhead sea turtle", "leatherback sea turtle", "mud turtle", "terrapin", "box turtle",
    "banded gecko", "green iguana", "Carolina anole", "desert grassland whiptail lizard",
    "agama", "frilled-necked lizard", "alligator lizard", "Gila monster", "European green lizard",
    "chameleon", "Komodo dragon", "Nile crocodile", "American alligator", "triceratops",
    "worm snake", "ring-necked snake", "eastern hog-nosed snake", "smooth green snake",
    "kingsnake", "garter snake", "water snake", "vine snake", "night snake", "boa constrictor",
    "African rock python", "Indian cobra", "green mamba", "sea snake", "Saharan horned viper",
    "eastern diamondback rattlesnake", "sidewinder rattlesnake", "trilobite", "harvestman",
    "scorpion", "yellow garden spider", "barn spider", "European garden spider",
    "southern black widow", "tarantula", "wolf spider", "tick", "centipede", "black grouse",
    "jack-o'-lantern", "potter's wheel", "Granny Smith", "carbonara", "T-shirt", "loafer",
    "Yorkshire Terrier", "Shih Tzu", "Chihuahua", "St. Bernard", "crane (bird)", "crane (machine)",
    "Dungeness crab", "king penguin", "Rhodesian Ridgeback", "Bernese Mountain Dog",
    "Pembroke Welsh Corgi", "Cardigan Welsh Corgi", "Toy Poodle", "Mexican hairless dog (xoloitzcuintli)",
    "red wolf or maned wolf", "Arctic fox", "Egyptian Mau", "ice cream", "hot dog", "cheeseburger",
    "espresso", "red wine", "hay", "menu", "plate", "guacamole", "consomme", "hot pot", "trifle",
    "ice pop", "baguette", "bagel", "pretzel", "mashed potato", "head cabbage", "broccoli",
    "cauliflower", "zucchini", "spaghetti squash", "acorn squash", "butternut squash", "cucumber",
    "artichoke", "bell pepper", "cardoon", "mushroom", "strawberry", "orange", "lemon", "fig",
    "pineapple", "banana", "jackfruit", "cherimoya (custard apple)", "pomegranate", "volcano",
    "alp", "bubble", "cliff", "coral reef", "geyser", "lakeshore", "promontory", "sandbar",
    "beach", "valley", "baseball player", "bridegroom", "scuba diver", "rapeseed", "daisy",
    "yellow lady's slipper", "corn", "acorn", "rose hip", "horse chestnut seed", "coral fungus",
    "agaric", "gyromitra", "stinkhorn mushroom", "earth star fungus", "hen of the woods mushroom",
    "bolete", "corn cob", "toilet paper",
]

IMAGENET_7 = [
    "itap of a {}.", "a bad photo of the {}.", "a origami {}.", "a photo of the large {}.",
    "a {} in a video game.", "art of the {}.", "a photo of the small {}.",
]


def nfd(s):
    return unicodedata.normalize("NFD", s)


def curated():
    """Returns a list of (category, text)."""
    out = []

    def add(cat, *texts):
        for t in texts:
            out.append((cat, t))

    # Basic cases: case, punctuation, contractions, accents, whitespace, numbers (and rows that need
    # real ftfy).
    add("basic", "Hello World!", "a photo of a cat", "a photo of a dog", "Hello, world!",
        "A PHOTO of  a Cat!", "don't stop 42 times", "cafe uber naive",
        "hello-world, 3.14 (test)", "café über naïve", "  spaced   out  ", "", "a diagram",
        "a dog", "a cat", 'a photo of the number: "7".', "itap of a goldfish.",
        "a black and white photo of the big automobile.", "New York City's skyline at dusk",
        "A\n'll 11p223RF☆ho!!to?'d'd''d of a cat to-$''d.", "Don’t panic")
    # CLIP demo captions and common prompts.
    add("prompt", "a page of text about segmentation", "a facial photo of a tabby cat",
        "a portrait of an astronaut with the American flag", "a rocket standing on a launchpad",
        "a red motorcycle standing in a garage", "a person looking at a camera on a tripod",
        "a black-and-white silhouette of a horse", "a cup of coffee on a saucer",
        "A photo of a {label}.", "This is a photo of a Golden Retriever puppy playing in the snow.",
        "a satellite photo of farmland.", "a centered satellite photo of a river.",
        "a photo of a person doing yoga.", "a zoomed in photo of a bee on a sunflower.",
        "an aerial view of Paris, France", "a sketch of a cat", "a tattoo of a dragon",
        "a cartoon dog.", "a plastic giraffe.", "a rendering of a sports car.")
    for tmpl in CIFAR_TEMPLATES:
        for c in CIFAR10:
            add("cifar10", tmpl.format(c))
    for c in CIFAR100_SOME:
        add("cifar100", "a photo of a {}.".format(c))
    for i, name in enumerate(IMAGENET_NAMES):
        add("imagenet", IMAGENET_7[i % len(IMAGENET_7)].format(name))
    add("imagenet", *IMAGENET_NAMES[:40])
    add("punctuation", "!!!???...", "...", "--", "—–", "@#$%^&*()", "a.b.c", "e-mail", "C++ and C#",
        "f(x)=x^2+1", "~~~", "https://example.com/a?b=c&d=e#frag", "someone@example.org",
        "[brackets] {braces} <angles>", "\"double\" 'single' `back`", "a/b\\c|d", "¡Hola! ¿Qué?",
        "«guillemets» ‹single›", "…ellipsis…", "·•●○", "price: $5.99 (€4,50; £3)", "#hashtag @mention",
        "***bold*** __under__", ":-) ;-) :D", "a,b;c:d", "-_-", "''", "'", "\"", "?!?!",
        "100%", "50/50", "a&b", "x<y>z")
    add("digits", "1234567890", "3.14159", "1,000,000", "2024-01-01", "12:30pm", "½ ¼ ¾", "x² + y³",
        "٠١٢٣٤٥٦٧٨٩", "۱۲۳", "१२३", "Ⅻ ⅻ", "①②③", "𝟙𝟚𝟛", "42", "007", "9" * 90,
        "room 101", "v2.0.1", "0x1F600", "1e-9", "IV", "২০২৪", "๑๒๓", "一二三", "〇")
    add("contraction", "don't", "I'm", "you're", "we've", "he'll", "she'd", "it's", "DON'T", "I'M",
        "WE'VE", "?'d", "'d'd", "''d", "x'S", "'ll've", "rock'n'roll", "o'clock", "'s", "'t",
        "it'ſ", "'T", "'Re 'VE", "can't won't shouldn't", "y'all'd've", "'m'm'm", "isn't",
        "l'amour", "'dd", "'lll", "d'Artagnan", "it’s", "'ſ'ſ")
    add("accent", "café", nfd("café"), "über", nfd("über"), "naïve", nfd("naïve"), "Ångström",
        "Å", nfd("Ångström"), "mañana", nfd("mañana"), "Tiếng Việt", nfd("Tiếng Việt"),
        "crème brûlée", nfd("crème brûlée"), "Zürich", "São Paulo", "Łódź", "Dvořák", "smörgåsbord",
        "façade", "e\u0301\u0301", "\u0301abc", "a\u0323\u0302", "a\u0302\u0323", "ｅ\u0301",
        "\u1100\u1161\u11a8", "ḱṷṓn", "q\u0307\u0323")
    add("cjk", "猫の写真", "一只猫的照片", "고양이 사진", "東京タワー", "ｶﾀｶﾅ", "ﾊﾟﾝ", "日本語のテキストです。",
        "漢字", "中文（简体）", "한국어", "ひらがな カタカナ", "𠀀𠀁", "の", "猫 cat ネコ")
    add("arabic", "صورة قطة", "مَرْحَبًا", "\u200fabc\u200e", "العربية 123", "ﷺ", "لا", "ﻻ")
    add("devanagari", "बिल्ली की तस्वीर", "नमस्ते", "क्षत्रिय", "हिन्दी", "ॐ")
    add("cyrillic", "фотография кошки", "ПРИВЕТ МИР", "Ёлка", "ёж", "Україна", "Ѣ", "Ӂ", "Қазақ")
    add("greek", "ΟΔΟΣ", "ΣΊΣΥΦΟΣ", "Σ", "ΑΣ.", "ΑΣ'Α", "Α\u0308Σ", "ΑΣ\u0308", "ΑΣ\u0301Α", "αβγ",
        "ΤΈΛΟΣ ΤΟΥ ΚΌΣΜΟΥ", "Σ Σ", "ΑΣ:Β", "ΑΣ.Β", "'Σ", "AΣ", "ΑΣ1", "ΑΣ·Α", "ᾼΣ", "aʰΣ")
    add("emoji", "🐱", "a photo of a 🐶", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵🇺🇸", "👍🏽", "❤️", "1️⃣",
        "🏴\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f", "😀😃😄😁", "🧑‍💻 coding",
        "☺", "★☆", "✔ done", "🎉🎉🎉", "©®™", "👩🏾‍🚀", "🫠")
    add("html", "&amp;", "&lt;b&gt;", "&quot;hi&quot;", "&#39;", "&#x27;", "&#8217;", "&amp;amp;",
        "&amp;amp;amp;", "&amp;amp;amp;lt;", "&copy", "&copy;", "&eacute;", "&EACUTE;", "&Eacute;",
        "&eAcute;", "&notit;", "&notin;", "&amp", "AT&T", "fish &chips", "&#0;", "&#128;",
        "&#x110000;", "&#1;", "&#xd800;", "&#65", "&#65;&#66;&#67;", "&nbsp;", "a&nbsp;b",
        "&zwj;", "&ThickSpace;", "&NotEqualTilde;", "x < y &amp; z", "<b>bold</b> &amp; more",
        "line1 &amp;\nline2 < 3 &amp;\nline3 &amp; 4", "&amp;lt;script&amp;gt;", "&SZLIG;",
        "P&EACUTE;REZ", "&#x1F600;", "&#128512;", "&#x;", "&#;", "&;", "&#99999999999999999999;",
        "&#X41;", "&ampx", "&amplt;", "&lt", "&gt5", "&fjlig;", "&NewLine;", "&Tab;x",
        "&#13;", "&#x80;", "&#x9f;", "&#xfdd0;", "&#11;", "&#x0a;", "&#12;", "&AMP;", "&LT;",
        "&#00000065;", "&#x00041;", "&" + "a" * 40 + ";", "&ntilde; &Ntilde; &NTILDE; &nTILDE;",
        "&checkmark;", "&Jscr;ohn &HilbertSpace;ancock", "&macr;\\_(ツ)_/&macr;")
    add("quotes", "“quoted”", "‘single’", "Don’t", "‚low‛", "„low“", "ʼn", "‟reversed‟",
        "«français»", "I said “it’s fine”", "′prime″", "ʻokina", "ʼapostrophe")
    add("ligature", "ﬁsh", "ﬂower", "ﬀ", "ﬃ", "ﬄ", "ﬅ", "ﬆ", "Ĳssel", "ĳs", "ǆ", "ǅ", "Ǆ", "ŉ",
        "ǈ", "ǋ", "ǲ", "œuvre", "Æsir", "ﬓ")
    add("fullwidth", "ＡＢＣ１２３", "ｈｅｌｌｏ　ｗｏｒｌｄ", "！？", "￥１０００", "ﾟ", "＠＃＄", "｟｠",
        "ＬＯＵＤ　ＮＯＩＳＥＳ", "Ｕﾀｰﾝ", "ﾍﾞﾙ", "￣", "￦", "｡｢｣", "ｰ")
    add("control", "a\x00b", "a\x07b", "\x1b[1mbold\x1b[0m", "\x1b[36;44mblue\x1b[0m", "a\x7fb",
        "a\u200bb", "\ufeffBOM", "a\ufffcb", "a\u206ab", "\x85", "a\x85b", "a\x80b",
        "\x93quoted\x94", "a\x1cb\x1dc\x1ed\x1ff", "a\x0bb", "a\x0cb", "\x1b[", "\x1b[12",
        "\x1b[١٢m", "\x1bx", "a\x1a", "\ufff9a\ufffab\ufffb", "\U0001d173x", "a\u00adb",
        "\x81\x8d\x8f\x90\x9d", "x\x9cy", "a\u2028b\u2029c", "\x00\x01\x02", "\u0000")
    add("whitespace", "\tcat\t", "a\nb\r\nc\rd", "a\u00a0b", "a\u3000b", "a\u2028b", "a\u2029b",
        "a\u202fb", "a\u205fb", "a\u1680b", "a\u180eb", "a\u2002b\u2003c", "a\u200b b", "a\u2009b",
        "  leading", "trailing  ", "a\n\n\nb", "\r\n", "x\u0085y", "a \t\n\r\x0b\x0c b", "a\u2007b")
    add("lowercase", "İ", "İSTANBUL", "DİYARBAKIR", "ΣΑΣ", "Ǆ", "ẞ", "K", "Å", "Ω", "ſ", "ǅ",
        "Ꭰ", "Ა", "𐐀", "ᏸ", "ǰ", "ﬅ", "Ȿ", "Ɐ", "ß", "ŉ", "ΐ", "Ϊ", "ᾈ", "ῼ", "Ⓐ", "Ⅻ", "𞤀",
        "\U00010570", "ǈ", "ﬀ", "İi̇", "I\u0307")
    add("special", "<start_of_text>", "<end_of_text>", "a <end_of_text> b", "<START_OF_TEXT>",
        "<|startoftext|>", "<|endoftext|>", "<start_of_text><end_of_text>", "<ſtart_of_text>",
        "x<start_of_text>y", "<start_of_text", "start_of_text", "<end_of_text>" * 3,
        "<End_Of_Text>", "<ſtart_of_text>abc")
    add("long", "cat " * 100, "a photo of " * 30 + "a cat.", "9" * 200, "a" * 500,
        "supercalifragilisticexpialidocious" * 20,
        "The quick brown fox jumps over the lazy dog. " * 8,
        "A long caption: " + ", ".join(IMAGENET_NAMES[:60]),
        "word " * 74 + "end", "word " * 75 + "end", "word " * 76 + "end",
        "🐱" * 50, "&amp;" * 100, "x" * 3000)
    add("empty", "", " ", "   ", "\t\n", "\u3000", "\u00a0", "\x00", "&nbsp;", "\u200b", "\ufeff",
        "\r\n\r\n", "&#32;", "\x1b[0m", "\u0345")
    add("mojibake", "âœ” No problems", "sÃ³", "voilÃ le travail", "Ã la mode",
        "The Mona Lisa doesnÃ¢â‚¬â„¢t have eyebrows.", "Ã©tÃ©", "â€œmismatched quotesâ€",
        "ÃƒÂ©", "schÃ¶n", "&macr;\\_(ã\x83\x84)_/&macr;", "Ð¿Ñ€Ð¸Ð²ÐµÑ‚", "Ã¨", "cafÃ©",
        "Ãºnico", "naÃ¯ve cafÃ© rÃ©sumÃ©", "â€™", "It’s Ã  la carte", "PÃ©rez", "Ã\xa0 la",
        "ÎšÎ±Î»Î·Î¼Î­ÏÎ±", "Ñ\x81Ð¾Ð±Ð°ÐºÐ°", "Ã¢â‚¬Å“", "â\x80\x9cquoted\x94",
        "Ã¼ber Ã¼ber", "l’Ã©tÃ©", "×©×œ×•×", "ÐšÐ¾ÑˆÐºÐ°", "æ—¥æœ¬", "ãƒ†ã‚¹ãƒˆ",
        "íƒœê·¸", "Ø§Ù„Ø¹Ø±Ø¨ÙŠØ©", "à¤¬à¤¿à¤²à¥à¤²à¥€", "ðŸ˜€", "ðŸ‡¯ðŸ‡µ",
        "Ã\x83Â©", "Ã¢â‚¬â€\x9d", "â€", "â€¦", "Â£5", "Â©2020", "Ã‰cole", "caf\u00c3\u00a9 au lait",
        "ÃƒÆ’Ã‚Â©", "×\x90", "Ã\x8d", "\xc3\xa9\xc3\xa8", "ÂÃ", "eÌ\x81", "Ì\x81", "à²")
    add("unicode_version", "\U00010D50\U00010D70", "\U00011F50\U00011F51", "\U0001E4F0",
        "\U0001F6DC", "\U0001FAE8", "\u0CF3", "\U00031350", "\U0001E030", "a\U0001E08Fb",
        "x\U00010EFDy", "\U000e0001", "\U0010FFFD", "\uFFFE", "\U0001FFFF")
    return out


# ----------------------------------------------------------------------------------------------
# Random strings (seeded): broad coverage of the cleaning stages.

ALPHABET_POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    " \t\n\r",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "áéíóúàèìòùâêîôûäëïöüñçÅåØøßÆæœŒ",
    "\u0301\u0308\u0323\u0345\u200d\ufe0f",
    "ΑΒΓΔΣαβγδσςΟΔΟ",
    "АБВГДабвгдЁё",
    "日本語猫犬中文한국어",
    "🐱🐶👍🏽❤🇯🇵",
    "“”‘’„‚«»",
    "ﬁﬂﬀＡＢＣａｂｃ１２３　！",
    "\x00\x07\x0b\x0c\x1b\x1c\x7f\x80\x85\x93\x94\xa0\xad\u2028\u3000\ufeff",
    "İıſKÅẞǅ",
    "ÃÂâ€œ™©®°±²³µ¶·¸¹º»¼½¾¿",
]
ENTITY_SNIPPETS = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#x27;", "&nbsp;", "&eacute;",
                   "&EACUTE;", "&copy", "&amp", "&#128;", "&#0;", "&#65", "&notit;", "&amp;amp;",
                   "&#x1F431;", "&hellip;", "&rsquo;", "&ldquo;", "&rdquo;", "<", "&"]
WORDS = ["a", "photo", "of", "the", "cat", "dog", "café", "naïve", "über", "don't", "it's",
         "New", "York", "42", "3.14", "hello", "world", "<start_of_text>", "<end_of_text>",
         "résumé", "Ελλάδα", "Москва", "東京", "🐱", "İstanbul", "ΟΔΟΣ"]
MOJIBAKE_CODECS = ["latin-1", "windows-1252", "windows-1251", "windows-1250", "windows-1253",
                   "windows-1254", "windows-1257", "iso-8859-2", "mac_roman", "cp437"]


def random_strings(n_mixed=700, n_words=400, n_mojibake=600, seed=20240601):
    rng = random.Random(seed)
    out = []
    for _ in range(n_mixed):
        k = rng.randint(0, 40)
        parts = []
        for _ in range(k):
            r = rng.random()
            if r < 0.1:
                parts.append(rng.choice(ENTITY_SNIPPETS))
            else:
                parts.append(rng.choice(rng.choice(ALPHABET_POOLS)))
        out.append(("random_mixed", "".join(parts)))
    for _ in range(n_words):
        k = rng.randint(1, 30)
        seps = [" ", " ", " ", ", ", ". ", "\n", "-", "'", "’", "&amp; ", "  "]
        text = ""
        for _ in range(k):
            w = rng.choice(WORDS)
            if rng.random() < 0.3:
                w = w.upper()
            text += w + rng.choice(seps)
        out.append(("random_words", text))
    for _ in range(n_mojibake):
        k = rng.randint(1, 12)
        text = " ".join(rng.choice(WORDS + ["“quoted”", "café…", "½", "—", "€5", "ñandú", "Zürich"])
                        for _ in range(k))
        codec = rng.choice(MOJIBAKE_CODECS)
        data = text.encode("utf-8")
        moj = data.decode(codec, errors="replace")
        r = rng.random()
        if r < 0.2:  # double mojibake
            moj = moj.encode("utf-8").decode(rng.choice(MOJIBAKE_CODECS[:2]), errors="replace")
        elif r < 0.35:  # mojibake mixed with correct text
            moj = text + " " + moj
        elif r < 0.45:  # NBSP lost as a space
            moj = moj.replace("\xa0", " ")
        out.append(("random_mojibake", moj))
    return out


# ----------------------------------------------------------------------------------------------
# Inputs the Go fuzzer found interesting (cliplib/tokenizer/testdata/fuzz/FuzzTokenize).

FUZZ_CORPUS = os.path.join(ROOT, "cliplib", "tokenizer", "testdata", "fuzz", "FuzzTokenize")
GO_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34, "'": 39}


def go_unquote_bytes(q):
    """Bytes of a Go double-quoted string literal (strconv.Quote syntax)."""
    assert q[0] == '"' and q[-1] == '"', q
    out = bytearray()
    i, body = 0, q[1:-1]
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        e = body[i + 1]
        if e in GO_ESCAPES:
            out.append(GO_ESCAPES[e])
            i += 2
        elif e == "x":
            out.append(int(body[i + 2:i + 4], 16))
            i += 4
        elif e in "uU":
            n = 4 if e == "u" else 8
            out += chr(int(body[i + 2:i + 2 + n], 16)).encode("utf-8")
            i += 2 + n
        elif e in "01234567":
            out.append(int(body[i + 1:i + 4], 8))
            i += 4
        else:
            raise ValueError(f"unknown escape \\{e} in {q!r}")
    return bytes(out)


def fuzz_corpus():
    """(category, text) for each committed fuzz corpus entry, read as Python would read the bytes."""
    out = []
    if not os.path.isdir(FUZZ_CORPUS):
        return out
    for name in sorted(os.listdir(FUZZ_CORPUS)):
        with open(os.path.join(FUZZ_CORPUS, name), encoding="utf-8") as f:
            lines = f.read().splitlines()
        if lines[0] != "go test fuzz v1" or not lines[1].startswith("string(") or len(lines) != 2:
            raise ValueError(f"{name}: not a one-string Go fuzz corpus file")
        data = go_unquote_bytes(lines[1][len("string("):-1])
        out.append(("fuzz_corpus", data.decode("utf-8", errors="replace")))
    return out


# ----------------------------------------------------------------------------------------------


def check_vocab(tok_path):
    with open(tok_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != VOCAB_SHA256:
        sys.exit(f"{tok_path}: sha256 {digest}, expected {VOCAB_SHA256}")


def write_jsonl(path, rows, tok):
    with open(path, "w", encoding="utf-8") as f:
        for cat, text in rows:
            ids = tok(text)[0].tolist()
            rec = {"cat": cat, "text": text, "fixed": ftfy.fix_text(text), "clean": _clean_lower(text),
                   "ids": ids}
            # ensure_ascii keeps control characters and rare code points readable in diffs.
            f.write(json.dumps(rec, ensure_ascii=True) + "\n")
    print(f"wrote {path}: {len(rows)} rows")


def random_code_points(n, seed):
    """Strings of random code points from every plane (no surrogates)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        cs = []
        for _ in range(rng.randint(1, 30)):
            r = rng.random()
            if r < 0.4:
                cp = rng.randint(0x20, 0x7E)
            elif r < 0.6:
                cp = rng.randint(0x80, 0x2FFF)
            elif r < 0.8:
                cp = rng.randint(0x3000, 0xFFFF)
            else:
                cp = rng.randint(0x10000, 0x10FFFF)
            cs.append(chr(0x41 if 0xD800 <= cp <= 0xDFFF else cp))
        out.append(("random_code_points", "".join(cs)))
    return out


def make_big(path):
    """A larger random fixture (20,000 rows, not committed) for the opt-in Go test
    TestBigRandomFixture (CLIP_TOKENIZER_BIG_FIXTURE=path)."""
    rows = random_code_points(4000, seed=777)
    rows += random_strings(n_mixed=6000, n_words=2000, n_mojibake=8000, seed=4242)
    write_jsonl(path, rows, SimpleTokenizer())


def make_fixtures():
    tok = SimpleTokenizer()
    check_vocab(os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz"))
    os.makedirs(TESTDATA, exist_ok=True)
    write_jsonl(os.path.join(TESTDATA, "reference.jsonl"), curated(), tok)
    write_jsonl(os.path.join(TESTDATA, "random.jsonl"), random_strings() + fuzz_corpus(), tok)
    with open(os.path.join(TESTDATA, "python_ccc.txt"), "w") as f:
        f.write(f"# canonical combining classes of Python {sys.version.split()[0]} "
                f"(unicodedata {unicodedata.unidata_version}): hex code point, class\n")
        for cp in all_code_points():
            c = unicodedata.combining(chr(cp))
            if c:
                f.write(f"{cp:x} {c}\n")
    print("wrote python_ccc.txt")


# ----------------------------------------------------------------------------------------------
# Go tables.


def all_code_points():
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        yield cp


def ranges_of(pred):
    """Sorted inclusive [lo, hi] ranges of the code points where pred is true."""
    out = []
    for cp in all_code_points():
        if pred(cp):
            if out and out[-1][1] == cp - 1:
                out[-1][1] = cp
            elif out and out[-1][1] == 0xD7FF and cp == 0xE000:
                # Surrogates never occur in Go strings; bridge the gap so ranges stay compact.
                out[-1][1] = cp
            else:
                out.append([cp, cp])
    return out


def go_string(s):
    out = ['"']
    for ch in s:
        cp = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif 0x20 <= cp < 0x7F:
            out.append(ch)
        elif cp <= 0xFFFF:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)


def emit_ranges(w, name, doc, rngs):
    emit_pairs(w, name, f"{doc}\n// {len(rngs)} ranges of inclusive [lo, hi] code points.", "runeRanges",
               [(f"0x{lo:x}", f"0x{hi:x}") for lo, hi in rngs])


def emit_pairs(w, name, doc, typ, pairs):
    w(f"// {name} {doc}\nvar {name} = {typ}{{\n")
    line = "\t"
    for a, b in pairs:
        item = f"{{{a}, {b}}}, "
        if len(line) + len(item) > 100:
            w(line.rstrip() + "\n")
            line = "\t"
        line += item
    if line.strip():
        w(line.rstrip() + "\n")
    w("}\n\n")


def make_tables():
    L = regex.compile(r"[\p{L}]", regex.IGNORECASE)
    N = regex.compile(r"[\p{N}]", regex.IGNORECASE)
    O = regex.compile(r"[^\s\p{L}\p{N}]", regex.IGNORECASE)

    letters = ranges_of(lambda cp: L.fullmatch(chr(cp)) is not None)
    numbers = ranges_of(lambda cp: N.fullmatch(chr(cp)) is not None)
    skipped = []
    for cp in all_code_points():
        hits = sum(p.fullmatch(chr(cp)) is not None for p in (L, N, O))
        if hits > 1:
            sys.exit(f"U+{cp:04X} is in more than one pre-tokeniser class; the Go scanner assumes not")
        if hits == 0:
            skipped.append(cp)

    # Contraction and special-token letters: code points the IGNORECASE pattern accepts for each
    # ASCII letter used there (simple case folding, e.g. U+017F LONG S for 's').
    fold = {}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        pat = regex.compile(regex.escape(letter), regex.IGNORECASE)
        fold[letter] = [cp for cp in all_code_points() if pat.fullmatch(chr(cp))]

    space = [cp for cp in all_code_points() if chr(cp).isspace()]
    decimal = ranges_of(lambda cp: chr(cp).isdecimal())
    word = ranges_of(lambda cp: chr(cp).isalnum() or chr(cp) == "_")

    lower_single, lower_multi = [], []
    for cp in all_code_points():
        lo = chr(cp).lower()
        if lo != chr(cp):
            if len(lo) == 1:
                lower_single.append((cp, ord(lo)))
            else:
                lower_multi.append((cp, lo))

    # The Final_Sigma context as CPython's str.lower() applies it: a character is "ignorable"
    # when the look-around skips it, "cased" when it stops the look-around as cased.
    def sigma_out(s, idx):
        return s.lower()[idx]

    ignorable = ranges_of(lambda cp: sigma_out("A" + chr(cp) + "\u03a3", -1) == "\u03c2"
                          and sigma_out(chr(cp) + "\u03a3", -1) == "\u03c3")
    cased = ranges_of(lambda cp: sigma_out(chr(cp) + "\u03a3", -1) == "\u03c2")

    html5 = sorted(html.entities.html5.items())
    ftfy_extra = sorted((k, v) for k, v in ftfy.chardata.HTML_ENTITIES.items()
                        if not (k.endswith(";") and k[1:] in html.entities.html5))
    for k, v in ftfy.chardata.HTML_ENTITIES.items():
        if k[1:] in html.entities.html5 and html.entities.html5[k[1:]] != v:
            sys.exit(f"ftfy entity {k} differs from html5")

    codecs_tables = []
    for enc in ftfy.chardata.CHARMAP_ENCODINGS:
        table = bytes(range(256)).decode(enc)
        if len(set(table)) != 256:
            sys.exit(f"{enc}: decoding table is not one-to-one")
        for b in range(256):
            if table[b].encode(enc) != bytes([b]):
                sys.exit(f"{enc}: byte {b:#x} does not round-trip")
        codecs_tables.append((enc, table))

    cats = ftfy.badness.MOJIBAKE_CATEGORIES
    clues = ftfy.chardata.UTF8_CLUES

    parts = []
    w = parts.append
    w("// Code generated by tools/reference/make_tokenizer_fixtures.py --tables; DO NOT EDIT.\n\n")
    w(f"// Source: Python {sys.version.split()[0]} (unicodedata {unicodedata.unidata_version}), "
      f"regex {regex.__version__}, ftfy {ftfy.__version__}.\n\n")
    w("package tokenizer\n\n")
    emit_ranges(w, "preLetter", "are the code points `[\\p{L}]` matches in the pre-tokeniser "
                "pattern (regex module, IGNORECASE).", letters)
    emit_ranges(w, "preNumber", "are the code points `[\\p{N}]` matches in the pre-tokeniser "
                "pattern (regex module, IGNORECASE).", numbers)
    w("// preSkip lists the code points that no alternative of the pre-tokeniser pattern matches\n"
      "// (regex module, IGNORECASE): regex.findall skips them. Every other code point is matched by\n"
      "// `[^\\s\\p{L}\\p{N}]`.\n")
    w("var preSkip = []rune{" + ", ".join(f"0x{cp:x}" for cp in skipped) + "}\n\n")
    w("// foldASCII lists, for each ASCII lower-case letter, the code points the IGNORECASE\n"
      "// pre-tokeniser pattern accepts for that letter (the letter itself, its upper case and\n"
      "// simple case-fold partners such as U+017F for 's').\n")
    w("var foldASCII = [26][]rune{\n")
    for letter in "abcdefghijklmnopqrstuvwxyz":
        w("\t{" + ", ".join(f"0x{cp:x}" for cp in fold[letter]) + "},\n")
    w("}\n\n")
    w("// pySpace lists the code points for which Python's str.isspace() is true (str.split and\n"
      "// str.strip use it).\n")
    w("var pySpace = []rune{" + ", ".join(f"0x{cp:x}" for cp in space) + "}\n\n")
    emit_ranges(w, "pyDecimal", "are the code points Python's re `\\d` matches (str.isdecimal).",
                decimal)
    emit_ranges(w, "pyWord", "are the code points Python's re `\\w` matches (str.isalnum or '_').",
                word)
    emit_pairs(w, "pyLowerSingle", "maps code points to their one-code-point str.lower().",
               "[]lowerPair", [(f"0x{a:x}", f"0x{b:x}") for a, b in lower_single])
    emit_pairs(w, "pyLowerMulti", "maps code points whose str.lower() is several code points.",
               "[]lowerMultiPair", [(f"0x{a:x}", go_string(b)) for a, b in lower_multi])
    emit_ranges(w, "pySigmaIgnorable", "are the code points CPython's Final_Sigma look-around "
                "skips (Case_Ignorable).", ignorable)
    emit_ranges(w, "pySigmaCased", "are the code points that end CPython's Final_Sigma "
                "look-around as cased (Cased and not Case_Ignorable).", cased)
    emit_pairs(w, "html5Entities", "is Python's html.entities.html5: entity name (with or without "
               "the final ';') to replacement text.", "[]entityPair",
               [(go_string(k), go_string(v)) for k, v in html5])
    emit_pairs(w, "ftfyUpperEntities", "are the all-caps entities ftfy's unescape_html adds to the "
               "html5 names that end in ';' (e.g. &EACUTE;).", "[]entityPair",
               [(go_string(k), go_string(v)) for k, v in ftfy_extra])
    w("// ftfyLigatures is ftfy.chardata.LIGATURES (fix_latin_ligatures).\n")
    w("var ftfyLigatures = map[rune]string{\n")
    for k, v in sorted(ftfy.chardata.LIGATURES.items()):
        w(f"\t0x{k:x}: {go_string(v)},\n")
    w("}\n\n")
    w("// ftfyWidth is ftfy.chardata.WIDTH_MAP (fix_character_width).\n")
    w("var ftfyWidth = map[rune]string{\n")
    for k, v in sorted(ftfy.chardata.WIDTH_MAP.items()):
        w(f"\t0x{k:x}: {go_string(v)},\n")
    w("}\n\n")
    w("// ftfyControl is ftfy.chardata.CONTROL_CHARS (remove_control_chars).\n")
    w("var ftfyControl = []rune{" + ", ".join(f"0x{k:x}" for k in sorted(ftfy.chardata.CONTROL_CHARS))
      + "}\n\n")
    w("// charmapTables are the decoding tables (byte -> code point) of ftfy's CHARMAP_ENCODINGS,\n"
      "// in ftfy's order of preference, the 'sloppy' ones as ftfy builds them.\n")
    w("var charmapTables = []charmapTable{\n")
    for enc, table in codecs_tables:
        w(f"\t{{name: {go_string(enc)}, sloppy: {str(enc.startswith('sloppy')).lower()}, decode: [256]rune{{\n")
        for i in range(0, 256, 16):
            w("\t\t" + ", ".join(f"0x{ord(c):x}" for c in table[i:i + 16]) + ",\n")
        w("\t}},\n")
    w("}\n\n")
    w("// mojibakeCategories is ftfy.badness.MOJIBAKE_CATEGORIES (regex class contents).\n")
    w("var mojibakeCategories = map[string]string{\n")
    for k in sorted(cats):
        w(f"\t{go_string(k)}: {go_string(cats[k])},\n")
    w("}\n\n")
    w("// utf8Clues is ftfy.chardata.UTF8_CLUES (regex class contents).\n")
    w("var utf8Clues = map[string]string{\n")
    for k in sorted(clues):
        w(f"\t{go_string(k)}: {go_string(clues[k])},\n")
    w("}\n")
    with open(TABLES_GO, "w", encoding="utf-8") as f:
        f.write("".join(parts))
    gofmt = shutil.which("gofmt")
    if gofmt:
        subprocess.run([gofmt, "-w", TABLES_GO], check=True)
    else:
        print("warning: gofmt not found; run gofmt -w on the tables file")
    print(f"wrote {TABLES_GO}")


def compare_hf():
    """Prints where transformers' CLIPTokenizer (same vocabulary) differs from open_clip on the
    curated strings. Informational: the Go package follows open_clip."""
    import tempfile

    from transformers import CLIPTokenizer

    oc = SimpleTokenizer()
    with tempfile.TemporaryDirectory() as d:
        vocab = dict(oc.encoder)
        del vocab["<start_of_text>"], vocab["<end_of_text>"]
        vocab["<|startoftext|>"], vocab["<|endoftext|>"] = oc.sot_token_id, oc.eot_token_id
        with open(os.path.join(d, "vocab.json"), "w") as f:
            json.dump(vocab, f)
        with gzip.open(os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")) as f:
            lines = f.read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
        with open(os.path.join(d, "merges.txt"), "w") as f:
            f.write("#version: 0.2\n" + "\n".join(lines) + "\n")
        hf = CLIPTokenizer(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"))
    rows = curated()
    diff = {}
    for cat, text in rows:
        ref = oc(text)[0].tolist()
        ids = hf(text, max_length=77, truncation=True)["input_ids"]
        if ids != ref[:len(ids)] or (len(ids) < 77 and ref[len(ids)] != 0):
            diff.setdefault(cat, []).append(text)
    total = sum(len(v) for v in diff.values())
    print(f"transformers CLIPTokenizer differs from open_clip on {total} of {len(rows)} curated strings")
    for cat, texts in sorted(diff.items()):
        print(f"  {cat}: {len(texts)}, e.g. {[t[:40] for t in texts[:3]]!r}")
    long_ids = hf("cat " * 100, max_length=77, truncation=True)["input_ids"]
    print(f"HF truncation of 'cat '*100: {len(long_ids)} ids, ends {long_ids[-3:]}")


def bench():
    """Prints open_clip's tokenizer throughput per CPU second, for comparison with the Go
    benchmarks (BenchmarkTokenize reports prompts/cpu-s on the same prompt sets)."""
    import time

    tok = SimpleTokenizer()
    prompts = [t.format(c) for t in CIFAR_TEMPLATES for c in CIFAR10]
    reference = [text for _, text in curated()]
    for name, texts in [("cifar", prompts), ("reference", reference)]:
        tok(texts)  # warm the BPE cache, as the Go benchmark's first pass does
        n, c0 = 0, time.process_time()
        while time.process_time() - c0 < 3:
            tok(texts)
            n += 1
        cpu = time.process_time() - c0
        print(f"open_clip {name}: {n * len(texts) / cpu:.0f} prompts/cpu-s ({len(texts)} prompts, tokenize())")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", action="store_true", help="write testdata/tokenizer/*")
    ap.add_argument("--tables", action="store_true", help="write cliplib/tokenizer/tables_gen.go")
    ap.add_argument("--compare-hf", action="store_true",
                    help="only print where transformers' CLIPTokenizer differs from open_clip")
    ap.add_argument("--bench", action="store_true", help="only print open_clip's tokenizer speed")
    ap.add_argument("--big", metavar="PATH", help="only write a 20,000-row random fixture to PATH")
    args = ap.parse_args()
    if args.big:
        make_big(args.big)
        return
    if args.bench:
        bench()
        return
    if args.compare_hf:
        compare_hf()
        return
    if not args.fixtures and not args.tables:
        args.fixtures = args.tables = True
    if args.tables:
        make_tables()
    if args.fixtures:
        make_fixtures()


if __name__ == "__main__":
    main()
