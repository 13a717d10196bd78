// Martin Porter's original stemmer (1980), as Lucene's PorterStemmer runs it for EnglishAnalyzer
// and so for Pyserini's English indexes: Porter's reference version, with its two departures from
// the paper (-bli -> -ble, -logi -> -log), and words of 1-2 letters left alone. We carry our own
// because the npm ports we tried cut "construction" to "construc" instead of "construct".
// Steps are numbered as in Lucene (1 = paper's 1a+1b, 2 = 1c, 3..6 = paper's 2..5).

/** The Porter stem of a lower-case word (other characters count as consonants, as in Lucene). */
export function porterStem(word: string): string {
  if (word.length <= 2) return word;
  const s = new PorterState(word);
  s.step1();
  s.step2();
  s.step3();
  s.step4();
  s.step5();
  s.step6();
  return s.b.slice(0, s.k + 1).join("");
}

class PorterState {
  b: string[];
  /** Index of the last character of the current word. */
  k: number;
  /** End of the stem before the suffix ends() last matched. */
  j = 0;

  constructor(word: string) {
    // UTF-16 units, as Java chars: rules only ever match ASCII letters.
    this.b = word.split("");
    this.k = this.b.length - 1;
  }

  cons(i: number): boolean {
    switch (this.b[i]) {
      case "a":
      case "e":
      case "i":
      case "o":
      case "u":
        return false;
      case "y":
        return i === 0 ? true : !this.cons(i - 1);
      default:
        return true;
    }
  }

  /** The number of vowel-consonant sequences in b[0..j]: [C](VC)^m[V]. */
  m(): number {
    let n = 0;
    let i = 0;
    for (;;) {
      if (i > this.j) return n;
      if (!this.cons(i)) break;
      i++;
    }
    i++;
    for (;;) {
      for (;;) {
        if (i > this.j) return n;
        if (this.cons(i)) break;
        i++;
      }
      i++;
      n++;
      for (;;) {
        if (i > this.j) return n;
        if (!this.cons(i)) break;
        i++;
      }
      i++;
    }
  }

  vowelInStem(): boolean {
    for (let i = 0; i <= this.j; i++) if (!this.cons(i)) return true;
    return false;
  }

  doubleC(j: number): boolean {
    return j >= 1 && this.b[j] === this.b[j - 1] && this.cons(j);
  }

  /** b[i-2..i] is consonant-vowel-consonant and the last is not w, x or y (hop -> hope). */
  cvc(i: number): boolean {
    if (i < 2 || !this.cons(i) || this.cons(i - 1) || !this.cons(i - 2)) return false;
    const ch = this.b[i];
    return ch !== "w" && ch !== "x" && ch !== "y";
  }

  ends(s: string): boolean {
    const o = this.k - s.length + 1;
    if (o < 0) return false;
    for (let i = 0; i < s.length; i++) if (this.b[o + i] !== s[i]) return false;
    this.j = this.k - s.length;
    return true;
  }

  setTo(s: string): void {
    for (let i = 0; i < s.length; i++) this.b[this.j + 1 + i] = s[i];
    this.k = this.j + s.length;
  }

  r(s: string): void {
    if (this.m() > 0) this.setTo(s);
  }

  /** Plurals and -ed / -ing. */
  step1(): void {
    if (this.b[this.k] === "s") {
      if (this.ends("sses")) this.k -= 2;
      else if (this.ends("ies")) this.setTo("i");
      else if (this.b[this.k - 1] !== "s") this.k--;
    }
    if (this.ends("eed")) {
      if (this.m() > 0) this.k--;
    } else if ((this.ends("ed") || this.ends("ing")) && this.vowelInStem()) {
      this.k = this.j;
      if (this.ends("at")) this.setTo("ate");
      else if (this.ends("bl")) this.setTo("ble");
      else if (this.ends("iz")) this.setTo("ize");
      else if (this.doubleC(this.k)) {
        const ch = this.b[this.k--];
        if (ch === "l" || ch === "s" || ch === "z") this.k++;
      } else if (this.m() === 1 && this.cvc(this.k)) this.setTo("e");
    }
  }

  /** Terminal y -> i when the stem has another vowel. */
  step2(): void {
    if (this.ends("y") && this.vowelInStem()) this.b[this.k] = "i";
  }

  /** Double suffixes to single ones (-ization -> -ize), when m > 0. */
  step3(): void {
    if (this.k === 0) return;
    const rules = STEP3[this.b[this.k - 1]];
    if (rules === undefined) return;
    for (const [suffix, replacement] of rules) {
      if (this.ends(suffix)) {
        this.r(replacement);
        return;
      }
    }
  }

  /** -ic-, -full, -ness and the like, when m > 0. */
  step4(): void {
    const rules = STEP4[this.b[this.k]];
    if (rules === undefined) return;
    for (const [suffix, replacement] of rules) {
      if (this.ends(suffix)) {
        this.r(replacement);
        return;
      }
    }
  }

  /** -ant, -ence and the like, in context <c>vcvc<v> (m > 1). */
  step5(): void {
    if (this.k === 0) return;
    const suffix = STEP5[this.b[this.k - 1]]?.find((x) => this.ends(x));
    if (suffix === undefined) return;
    // -ion goes only after s or t: adoption -> adopt, but lion stays.
    if (suffix === "ion" && this.b[this.j] !== "s" && this.b[this.j] !== "t") return;
    if (this.m() > 1) this.k = this.j;
  }

  /** A final -e when m > 1 (or m = 1 and not cvc), and -ll -> -l when m > 1. */
  step6(): void {
    this.j = this.k;
    if (this.b[this.k] === "e") {
      const a = this.m();
      if (a > 1 || (a === 1 && !this.cvc(this.k - 1))) this.k--;
    }
    if (this.b[this.k] === "l" && this.doubleC(this.k) && this.m() > 1) this.k--;
  }
}

// Keyed by the penultimate letter of the word, tried in order, first match wins.
const STEP3: Readonly<Record<string, readonly (readonly [string, string])[]>> = {
  a: [
    ["ational", "ate"],
    ["tional", "tion"],
  ],
  c: [
    ["enci", "ence"],
    ["anci", "ance"],
  ],
  e: [["izer", "ize"]],
  l: [
    ["bli", "ble"],
    ["alli", "al"],
    ["entli", "ent"],
    ["eli", "e"],
    ["ousli", "ous"],
  ],
  o: [
    ["ization", "ize"],
    ["ation", "ate"],
    ["ator", "ate"],
  ],
  s: [
    ["alism", "al"],
    ["iveness", "ive"],
    ["fulness", "ful"],
    ["ousness", "ous"],
  ],
  t: [
    ["aliti", "al"],
    ["iviti", "ive"],
    ["biliti", "ble"],
  ],
  g: [["logi", "log"]],
};

// Keyed by the last letter.
const STEP4: Readonly<Record<string, readonly (readonly [string, string])[]>> = {
  e: [
    ["icate", "ic"],
    ["ative", ""],
    ["alize", "al"],
  ],
  i: [["iciti", "ic"]],
  l: [
    ["ical", "ic"],
    ["ful", ""],
  ],
  s: [["ness", ""]],
};

// Keyed by the penultimate letter.
const STEP5: Readonly<Record<string, readonly string[]>> = {
  a: ["al"],
  c: ["ance", "ence"],
  e: ["er"],
  i: ["ic"],
  l: ["able", "ible"],
  n: ["ant", "ement", "ment", "ent"],
  o: ["ion", "ou"],
  s: ["ism"],
  t: ["ate", "iti"],
  u: ["ous"],
  v: ["ive"],
  z: ["ize"],
};
