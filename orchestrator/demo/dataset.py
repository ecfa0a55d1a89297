"""Write the project's own demo routing dataset (synthetic outcomes, prompts written here).

Prompts are generated from templates and small fact tables written for this project, so every
question has a known gold answer. Each default expert's outcome on a prompt is *drawn* from
a declared per-category accuracy (below), shifted by a per-prompt difficulty so that experts
tend to fail on the same hard items, as real models do. Costs come from the experts' prices
in experts.yaml and a per-expert output length. Nothing here is a real model's behaviour:
the file marks every row ``"synthetic": true``.

    python -m orchestrator.demo.dataset --out orchestrator/demo/demo_routing.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ACCURACY", "DemoItem", "generate", "main"]

EXPERTS = [
    "qwen2.5-7b-instruct",
    "llama-3.1-8b-instruct",
    "qwen2.5-math-7b-instruct",
    "qwen2.5-coder-7b-instruct",
    "bio-medical-llama-3-8b",
    "deepseek-r1-distill-qwen-7b",
    "gemma-2-9b-it",
]

# Declared accuracy of each expert per category (the generator's ground truth), in EXPERTS order.
ACCURACY: dict[str, list[float]] = {
    "math":      [0.62, 0.48, 0.86, 0.55, 0.30, 0.80, 0.55],
    "code":      [0.60, 0.52, 0.40, 0.85, 0.25, 0.62, 0.55],
    "medical":   [0.58, 0.55, 0.30, 0.30, 0.80, 0.50, 0.64],
    "reasoning": [0.55, 0.45, 0.56, 0.45, 0.30, 0.83, 0.58],
    "knowledge": [0.70, 0.66, 0.35, 0.40, 0.50, 0.55, 0.77],
    "writing":   [0.76, 0.79, 0.30, 0.40, 0.45, 0.50, 0.74],
}  # fmt: skip

# USD per million tokens (input, output), as in experts.yaml, and typical output length.
PRICE = {
    "qwen2.5-7b-instruct": (0.10, 0.30),
    "llama-3.1-8b-instruct": (0.10, 0.30),
    "qwen2.5-math-7b-instruct": (0.10, 0.30),
    "qwen2.5-coder-7b-instruct": (0.10, 0.30),
    "bio-medical-llama-3-8b": (0.10, 0.30),
    "deepseek-r1-distill-qwen-7b": (0.15, 0.60),
    "gemma-2-9b-it": (0.12, 0.36),
}
OUTPUT_TOKENS = {"deepseek-r1-distill-qwen-7b": 900, "qwen2.5-math-7b-instruct": 320}
DEFAULT_OUTPUT_TOKENS = 220


@dataclass(frozen=True)
class DemoItem:
    category: str
    task: str
    prompt: str
    gold: str | None  # None: open-ended (no extractable answer)
    distractors: tuple[str, ...] = ()


# --------------------------------------------------------------------------- prompt writers


def _math(rng: random.Random) -> DemoItem:
    kind = rng.randrange(6)
    if kind == 0:
        a, b, c = rng.randint(12, 60), rng.randint(2, 9), rng.randint(3, 11)
        ans = a * b - c
        q = f"A bakery bakes {a} loaves on each of {b} days and gives away {c} loaves in total. How many loaves does it have left?"
    elif kind == 1:
        p, pct = rng.choice([40, 60, 80, 120, 150, 200, 250]), rng.choice([10, 15, 20, 25, 30, 40])
        ans = p - p * pct // 100
        q = f"A jacket costs ${p}. It is discounted by {pct}%. What is the sale price in dollars?"
    elif kind == 2:
        s, t = rng.choice([30, 45, 50, 60, 72, 80]), rng.choice([2, 3, 4, 5])
        ans = s * t
        q = f"A train travels at {s} km/h for {t} hours. How many kilometres does it cover?"
    elif kind == 3:
        n = rng.randint(5, 30)
        ans = n * (n + 1) // 2
        q = f"What is the sum of the integers from 1 to {n}?"
    elif kind == 4:
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        ans = a * a + b * b
        q = f"Compute {a}^2 + {b}^2."
    else:
        w, h = rng.randint(3, 25), rng.randint(3, 25)
        ans = 2 * (w + h)
        q = f"A rectangle is {w} m wide and {h} m long. What is its perimeter in metres?"
    return DemoItem("math", "word-problem", q, str(ans), (str(ans + rng.choice([1, 2, 10])), str(max(0, ans - rng.choice([1, 3, 5])))))


def _code(rng: random.Random) -> DemoItem:
    kind = rng.randrange(5)
    xs = [rng.randint(1, 20) for _ in range(rng.randint(4, 7))]
    if kind == 0:
        snippet = f"xs = {xs}\nprint(sum(xs[::2]))"
    elif kind == 1:
        k = rng.randint(2, 5)
        snippet = f"xs = {xs}\nprint(len([x for x in xs if x % {k} == 0]))"
    elif kind == 2:
        snippet = f"xs = {xs}\nprint(max(xs) - min(xs))"
    elif kind == 3:
        word = rng.choice(["router", "expert", "scheduler", "gateway", "aggregate", "profile", "sleepmode"])
        snippet = f"s = {word!r}\nprint(s[::-1].upper()[:3])"
    else:
        n = rng.randint(3, 8)
        snippet = f"def f(n):\n    return 1 if n <= 1 else n * f(n - 1)\nprint(f({n}))"
    scope: dict[str, object] = {}
    lines: list[str] = []
    exec(snippet.replace("print(", "_out.append("), {"_out": lines, **scope})  # noqa: S102 - our own generated snippet
    ans = str(lines[0])
    q = f"What does this Python program print?\n```python\n{snippet}\n```"
    wrong = (ans + "0", ans[:-1] or "0") if not ans.isdigit() else (str(int(ans) + 1), str(max(0, int(ans) - 2)))
    return DemoItem("code", "code-output", q, ans, wrong)


_MEDICAL = [
    ("Which vitamin deficiency causes scurvy?", "Vitamin C", ["Vitamin D", "Vitamin B12", "Vitamin K"]),
    ("Which vitamin deficiency causes rickets in children?", "Vitamin D", ["Vitamin A", "Vitamin C", "Vitamin E"]),
    ("Deficiency of which vitamin causes pernicious anaemia?", "Vitamin B12", ["Vitamin B1", "Vitamin C", "Folate"]),
    ("Which hormone lowers blood glucose?", "Insulin", ["Glucagon", "Cortisol", "Adrenaline"]),
    ("Which organ produces bile?", "Liver", ["Gallbladder", "Pancreas", "Spleen"]),
    ("Which cells produce insulin?", "Beta cells of the pancreas", ["Alpha cells of the pancreas", "Hepatocytes", "Kupffer cells"]),
    ("What is the first-line drug for type 2 diabetes in most guidelines?", "Metformin", ["Insulin glargine", "Glibenclamide", "Pioglitazone"]),
    ("Which electrolyte disturbance classically causes peaked T waves on ECG?", "Hyperkalaemia", ["Hypokalaemia", "Hypercalcaemia", "Hyponatraemia"]),
    ("Which organism causes tuberculosis?", "Mycobacterium tuberculosis", ["Staphylococcus aureus", "Streptococcus pneumoniae", "Clostridium difficile"]),
    ("Which blood type is the universal red-cell donor?", "O negative", ["AB positive", "A negative", "B positive"]),
    ("Which nerve is compressed in carpal tunnel syndrome?", "Median nerve", ["Ulnar nerve", "Radial nerve", "Axillary nerve"]),
    ("What is the antidote for paracetamol overdose?", "N-acetylcysteine", ["Naloxone", "Flumazenil", "Atropine"]),
    ("What is the antidote for opioid overdose?", "Naloxone", ["N-acetylcysteine", "Protamine", "Vitamin K"]),
    ("Which heart valve is most commonly affected in rheumatic heart disease?", "Mitral valve", ["Aortic valve", "Tricuspid valve", "Pulmonary valve"]),
    ("Which gland secretes thyroxine?", "Thyroid gland", ["Adrenal gland", "Pituitary gland", "Parathyroid gland"]),
    ("Which part of the brain coordinates balance and fine movement?", "Cerebellum", ["Medulla", "Hypothalamus", "Frontal lobe"]),
    ("Which enzyme does aspirin irreversibly inhibit?", "Cyclooxygenase", ["Lipoxygenase", "Phospholipase A2", "Thromboxane synthase"]),
    ("What is the most common cause of community-acquired pneumonia?", "Streptococcus pneumoniae", ["Klebsiella pneumoniae", "Legionella", "Mycoplasma"]),
    ("Which imaging test is first-line for suspected gallstones?", "Abdominal ultrasound", ["Plain X-ray", "MRI", "Barium swallow"]),
    ("Which anticoagulant is reversed by vitamin K?", "Warfarin", ["Heparin", "Apixaban", "Dabigatran"]),
    ("What does HbA1c measure?", "Average blood glucose over about three months", ["Current blood glucose", "Insulin resistance", "Kidney function"]),
    ("Which condition is caused by a lack of dopamine in the substantia nigra?", "Parkinson's disease", ["Alzheimer's disease", "Multiple sclerosis", "Huntington's disease"]),
    ("Which vaccine-preventable disease causes Koplik spots?", "Measles", ["Mumps", "Rubella", "Chickenpox"]),
    ("Which lobe of the lung is most often the site of aspiration when upright?", "Right lower lobe", ["Left upper lobe", "Right upper lobe", "Left lower lobe"]),
    ("Which class of drug is amlodipine?", "Calcium channel blocker", ["Beta blocker", "ACE inhibitor", "Diuretic"]),
    ("Which class of drug is lisinopril?", "ACE inhibitor", ["Angiotensin receptor blocker", "Calcium channel blocker", "Beta blocker"]),
    ("What is the normal adult resting heart rate range in beats per minute?", "60 to 100", ["40 to 60", "100 to 140", "30 to 50"]),
    ("Which hormone triggers ovulation?", "Luteinising hormone", ["Progesterone", "Prolactin", "Oxytocin"]),
    ("Which bone is the most commonly fractured in the body?", "Clavicle", ["Femur", "Tibia", "Humerus"]),
    ("What is the main symptom pattern of angina pectoris?", "Chest pain on exertion relieved by rest", ["Constant pain at rest", "Pain only when lying down", "Pain relieved by eating"]),
]

_KNOWLEDGE = [
    ("What is the capital of Australia?", "Canberra", ["Sydney", "Melbourne", "Perth"]),
    ("What is the capital of Canada?", "Ottawa", ["Toronto", "Vancouver", "Montreal"]),
    ("What is the capital of Brazil?", "Brasilia", ["Rio de Janeiro", "Sao Paulo", "Salvador"]),
    ("What is the capital of Turkey?", "Ankara", ["Istanbul", "Izmir", "Antalya"]),
    ("What is the capital of New Zealand?", "Wellington", ["Auckland", "Christchurch", "Queenstown"]),
    ("What is the chemical symbol of gold?", "Au", ["Ag", "Gd", "Go"]),
    ("What is the chemical symbol of sodium?", "Na", ["So", "Sd", "N"]),
    ("What is the chemical symbol of potassium?", "K", ["P", "Po", "Pt"]),
    ("Who wrote 'Pride and Prejudice'?", "Jane Austen", ["Charlotte Bronte", "George Eliot", "Mary Shelley"]),
    ("Who wrote 'One Hundred Years of Solitude'?", "Gabriel Garcia Marquez", ["Jorge Luis Borges", "Mario Vargas Llosa", "Isabel Allende"]),
    ("Who painted 'The Starry Night'?", "Vincent van Gogh", ["Claude Monet", "Paul Cezanne", "Edvard Munch"]),
    ("Which planet has the most known moons?", "Saturn", ["Jupiter", "Uranus", "Neptune"]),
    ("Which is the largest ocean on Earth?", "Pacific Ocean", ["Atlantic Ocean", "Indian Ocean", "Arctic Ocean"]),
    ("In which year did the Berlin Wall fall?", "1989", ["1987", "1991", "1985"]),
    ("Which language has the most native speakers?", "Mandarin Chinese", ["English", "Spanish", "Hindi"]),
    ("What is the longest river in South America?", "Amazon", ["Parana", "Orinoco", "Magdalena"]),
    ("Which element has atomic number 6?", "Carbon", ["Nitrogen", "Oxygen", "Boron"]),
    ("Who developed the theory of general relativity?", "Albert Einstein", ["Isaac Newton", "Niels Bohr", "Max Planck"]),
    ("Which country hosted the 2016 Summer Olympics?", "Brazil", ["China", "United Kingdom", "Japan"]),
    ("What is the hardest natural mineral?", "Diamond", ["Quartz", "Corundum", "Topaz"]),
    ("Which gas makes up most of Earth's atmosphere?", "Nitrogen", ["Oxygen", "Argon", "Carbon dioxide"]),
    ("Who composed 'The Four Seasons'?", "Antonio Vivaldi", ["Johann Sebastian Bach", "Wolfgang Amadeus Mozart", "George Frideric Handel"]),
    ("What is the currency of Japan?", "Yen", ["Won", "Yuan", "Ringgit"]),
    ("Which desert is the largest hot desert?", "Sahara", ["Gobi", "Kalahari", "Arabian"]),
    ("Which organelle is the site of photosynthesis?", "Chloroplast", ["Mitochondrion", "Ribosome", "Nucleus"]),
    ("What is the smallest prime number?", "2", ["1", "3", "0"]),
    ("Which mountain is the highest above sea level?", "Mount Everest", ["K2", "Kangchenjunga", "Mont Blanc"]),
    ("Who was the first person to walk on the Moon?", "Neil Armstrong", ["Buzz Aldrin", "Yuri Gagarin", "Michael Collins"]),
    ("Which metal is liquid at room temperature?", "Mercury", ["Gallium", "Lead", "Tin"]),
    ("What is the main language spoken in Brazil?", "Portuguese", ["Spanish", "French", "English"]),
]


def _mcq(table: list[tuple[str, str, list[str]]], category: str, task: str) -> Callable[[random.Random], DemoItem]:
    def write(rng: random.Random) -> DemoItem:
        q, right, wrong = rng.choice(table)
        options = [right, *wrong]
        rng.shuffle(options)
        letters = "ABCD"
        body = "\n".join(f"{letters[i]}. {o}" for i, o in enumerate(options))
        gold = letters[options.index(right)]
        others = tuple(letters[i] for i, o in enumerate(options) if o != right)
        return DemoItem(category, task, f"{q}\n{body}\nAnswer with the letter.", gold, others[:2])

    return write


def _reasoning(rng: random.Random) -> DemoItem:
    kind = rng.randrange(4)
    if kind == 0:
        a, d = rng.randint(1, 9), rng.randint(2, 7)
        seq = [a + i * d for i in range(5)]
        ans = a + 5 * d
        q = f"What number comes next in the sequence {', '.join(map(str, seq))}?"
    elif kind == 1:
        a, r = rng.randint(1, 4), rng.choice([2, 3])
        seq = [a * r**i for i in range(5)]
        ans = a * r**5
        q = f"Continue the pattern: {', '.join(map(str, seq))}, ?"
    elif kind == 2:
        older, gap, years = rng.randint(30, 60), rng.randint(20, 30), rng.randint(2, 12)
        ans = older - gap + years
        q = f"Maria is {older} years old and {gap} years older than her son. How old will her son be in {years} years?"
    else:
        people = rng.sample(["Ana", "Ben", "Chen", "Dara", "Eli", "Fay"], 3)
        heights = sorted(rng.sample(range(150, 195), 3), reverse=True)
        ans_name = people[0]
        q = (
            f"{people[0]} is taller than {people[1]}. {people[1]} is taller than {people[2]}. "
            f"{people[2]} is {heights[2]} cm tall. Who is the tallest of the three?"
        )
        return DemoItem("reasoning", "logic", q, ans_name, (people[1], people[2]))
    return DemoItem("reasoning", "pattern", q, str(ans), (str(ans + 1), str(ans - 1)))


_TOPICS = ["autumn rain", "a lighthouse", "city traffic at dawn", "an old library", "a mountain lake", "a power outage",
           "the first snow", "a late train", "a garden in spring", "the night shift", "a market on Sunday", "a paper boat"]  # fmt: skip
_FORMS = [
    "Write a haiku about {t}.",
    "Write a four-line poem about {t}.",
    "Write a short opening paragraph for a story about {t}.",
    "Describe {t} in three vivid sentences.",
    "Write a product-style tagline inspired by {t}.",
]
_EMAILS = [
    ("your landlord", "a leaking kitchen tap"),
    ("a colleague", "moving Thursday's meeting to Friday"),
    ("a customer", "a delayed shipment"),
    ("your manager", "a request for two days of leave"),
    ("a conference organiser", "withdrawing a talk"),
    ("a new team member", "a welcome and first-week plan"),
]


def _writing(rng: random.Random) -> DemoItem:
    if rng.random() < 0.6:
        q = rng.choice(_FORMS).format(t=rng.choice(_TOPICS))
    else:
        who, what = rng.choice(_EMAILS)
        q = f"Draft a short, polite email to {who} about {what}."
    return DemoItem("writing", "open-writing", q, None)


WRITERS: dict[str, Callable[[random.Random], DemoItem]] = {
    "math": _math,
    "code": _code,
    "medical": _mcq(_MEDICAL, "medical", "medical-mcq"),
    "reasoning": _reasoning,
    "knowledge": _mcq(_KNOWLEDGE, "knowledge", "trivia-mcq"),
    "writing": _writing,
}
COUNTS = {"math": 70, "code": 60, "medical": 45, "reasoning": 60, "knowledge": 45, "writing": 50}


# --------------------------------------------------------------------------- outcomes


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _split(prompt: str) -> str:
    return "test" if int(hashlib.sha1(prompt.encode()).hexdigest(), 16) % 10 < 3 else "train"


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _outcomes(item: DemoItem, rng: random.Random) -> dict[str, dict[str, object]]:
    # A shared difficulty makes experts fail on the same hard items; calibrated so that the
    # marginal accuracy stays close to the declared one.
    difficulty = rng.gauss(0.0, 1.0)
    out: dict[str, dict[str, object]] = {}
    for j, name in enumerate(EXPERTS):
        acc = ACCURACY[item.category][j]
        p = 1 / (1 + math.exp(-(_logit(acc) * 1.25 - 1.1 * difficulty)))
        correct = rng.random() < p
        n_out = max(20, int(rng.gauss(OUTPUT_TOKENS.get(name, DEFAULT_OUTPUT_TOKENS), 40)))
        pin, pout = PRICE[name]
        record: dict[str, object] = {
            "score": 1.0 if correct else 0.0,
            "cost_usd": round((_tokens(item.prompt) * pin + n_out * pout) / 1e6, 9),
            "output_tokens": n_out,
        }
        if item.gold is not None:
            record["answer"] = item.gold if correct else rng.choice(item.distractors)
        out[name] = record
    return out


def generate(seed: int = 7) -> Iterator[dict[str, object]]:
    rng = random.Random(seed)
    seen: set[str] = set()
    for category, count in COUNTS.items():
        made = attempts = 0
        while made < count and attempts < count * 50:
            attempts += 1
            item = WRITERS[category](rng)
            if item.prompt in seen:
                continue
            seen.add(item.prompt)
            made += 1
            yield {
                "id": f"demo-{category}-{made:03d}",
                "prompt": item.prompt,
                "task": item.task,
                "category": category,
                "split": _split(item.prompt),
                "synthetic": True,
                "gold": item.gold,
                "experts": _outcomes(item, rng),
            }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("demo_routing.jsonl"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rows = list(generate(args.seed))
    with args.out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
