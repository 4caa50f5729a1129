/**
 * Word-level text analysis for the local embedder: tokenization that understands code identifiers
 * (`getUserById`, `node_modules`, `front-end`), English stop words, a light suffix stemmer and a
 * short table of developer abbreviations. Pure functions; deterministic across platforms (no
 * locale-dependent APIs), because vectors computed today must match vectors computed next year.
 * Changing anything here changes vectors: bump `LOCAL_FEATURES_VERSION` so stores re-embed.
 */

/** Part of the local embedder's id; bump on any change to tokenization, stemming or weights. */
export const LOCAL_FEATURES_VERSION = 'fh1';

export const STOP_WORDS: ReadonlySet<string> = new Set((
  'a about above after again against all am an and any are as at be because been before being below between both but by ' +
  'can could did do does doing down during each few for from further had has have having he her here hers herself him ' +
  'himself his how i if in into is it its itself just me more most my myself no nor not of off on once only or other ' +
  'our ours ourselves out over own same she should so some such than that the their theirs them themselves then there ' +
  'these they this those through to too under until up very was we were what when where which while who whom why will ' +
  'with would you your yours yourself yourselves also every each via per us let lets get got'
).split(' '));

/**
 * Abbreviations a developer writes interchangeably with the spelled-out words. A token found here
 * also emits its expansion, so "k8s" meets "Kubernetes" and "CI" meets "continuous integration".
 */
export const ABBREVIATIONS: Readonly<Record<string, string>> = {
  db: 'database', dbs: 'databases', k8s: 'kubernetes', repo: 'repository', repos: 'repositories',
  config: 'configuration', cfg: 'configuration', conf: 'configuration', auth: 'authentication', authn: 'authentication',
  authz: 'authorization', deps: 'dependencies', dep: 'dependency', env: 'environment', envs: 'environments',
  prod: 'production', dev: 'development', js: 'javascript', ts: 'typescript', py: 'python', doc: 'documentation',
  docs: 'documentation', pr: 'pull request', prs: 'pull requests', ci: 'continuous integration', cd: 'continuous deployment',
  ui: 'user interface', ux: 'user experience', msg: 'message', msgs: 'messages', pkg: 'package', pkgs: 'packages',
  impl: 'implementation', perf: 'performance', async: 'asynchronous', sync: 'synchronous', i18n: 'internationalization',
  l10n: 'localization', infra: 'infrastructure', e2e: 'end to end', tz: 'timezone', ws: 'websocket', fn: 'function',
  func: 'function', args: 'arguments', arg: 'argument', params: 'parameters', param: 'parameter', req: 'request',
  resp: 'response', err: 'error', errs: 'errors', dir: 'directory', dirs: 'directories', regex: 'regular expression',
  mgmt: 'management', stg: 'staging', vm: 'virtual machine', os: 'operating system', cli: 'command line',
  gc: 'garbage collection', oom: 'out of memory', qa: 'quality assurance', ml: 'machine learning', llm: 'language model',
};

export interface Token {
  /** Lowercased, accent-free surface form. */
  word: string;
  /** Light stem of `word`. */
  stem: string;
  stop: boolean;
}

export interface AnalyzedText {
  /** Tokens in text order (identifier parts split out). */
  tokens: Token[];
  /** Extra whole words: joined hyphen compounds ("front-end" → "frontend") and abbreviation expansions. */
  extras: Token[];
}

/** Stop words that still form compounds with the word before them ("log in" → login, "set up" → setup). */
const PARTICLES: ReadonlySet<string> = new Set(['in', 'out', 'up', 'on', 'off', 'down', 'over']);

const WORD_RE = /[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu;
const HYPHEN_COMPOUND_RE = /\p{L}+(?:-\p{L}+){1,2}/gu;

/** Lowercase, NFKD without combining marks ("Café" → "cafe"): the same on every platform. */
export function foldText(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase();
}

/**
 * Splits `getUserById` → get User By Id, `HTTPServer` → HTTP Server. Letters and digits stay
 * together: `k8s`, `i18n`, `ec2`, `node20` are names, not two words.
 */
function splitIdentifier(raw: string): string[] {
  const spaced = raw
    .replace(/([\p{Ll}\p{N}])(\p{Lu})/gu, '$1 $2')
    .replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, '$1 $2');
  return spaced.split(' ').filter(Boolean);
}

function makeToken(word: string): Token {
  const stop = STOP_WORDS.has(word);
  return { word, stem: stop ? word : stem(word), stop };
}

/** Tokenizes text for feature extraction; identifiers yield their whole form and their parts. */
export function analyze(text: string): AnalyzedText {
  const tokens: Token[] = [];
  const extras: Token[] = [];
  for (const m of text.matchAll(WORD_RE)) {
    const raw = m[0].replace(/['’]s$/u, '').replace(/['’]/gu, '');
    const parts = splitIdentifier(raw);
    const whole = foldText(raw);
    if (parts.length > 1 && !/^\p{N}+$/u.test(whole)) {
      // An identifier: its parts carry the meaning ("user", "id"), the whole form matches exactly.
      for (const p of parts) tokens.push(makeToken(foldText(p)));
      extras.push(makeToken(whole));
    } else {
      tokens.push(makeToken(whole));
    }
  }
  const folded = foldText(text);
  for (const m of folded.matchAll(HYPHEN_COMPOUND_RE)) extras.push(makeToken(m[0].replaceAll('-', '')));
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const expansion = ABBREVIATIONS[t.word];
    if (expansion) for (const w of expansion.split(' ')) extras.push(makeToken(w));
    // Open compounds meet closed ones: "hot fix" → hotfix, "web sockets" → websocket, "rolled back" → rollback.
    const next = tokens[i + 1];
    if (next && !t.stop && (!next.stop || PARTICLES.has(next.word)) && /^\p{L}+$/u.test(t.word + next.word)) {
      extras.push(makeToken(t.stem + next.word));
    }
  }
  return { tokens, extras };
}

const VOWEL_RE = /[aeiouy]/;

function undouble(s: string): string {
  return s.length > 3 && s[s.length - 1] === s[s.length - 2] && !/[lsz]/.test(s[s.length - 1]!) ? s.slice(0, -1) : s;
}

/**
 * A light English suffix stemmer: inflections (plural, -ing, -ed), British -ise spellings, and a few
 * derivational suffixes (-ation, -ment, -ness, -ity, -er, -ly), each only when a real stem of at
 * least four letters remains. Character n-grams in the embedder cover what this misses.
 */
export function stem(word: string): string {
  let w = word;
  if (w.length <= 3 || !/^\p{L}+$/u.test(w)) return w;
  // British spellings first, so "optimising" and "optimizing" share a stem.
  w = w.replace(/is(e|ed|es|ing|ation|ations|er|ers)$/, 'iz$1');
  if (w.endsWith('ies') && w.length > 4) w = w.slice(0, -3) + 'y';
  else if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (/(x|ch|sh|zz)es$/.test(w)) w = w.slice(0, -2);
  else if (w.endsWith('s') && !/(ss|us|is)$/.test(w) && w.length > 3) w = w.slice(0, -1);
  if (w.endsWith('ing') && w.length - 3 >= 3 && VOWEL_RE.test(w.slice(0, -3))) w = undouble(w.slice(0, -3));
  else if (w.endsWith('ed') && w.length - 2 >= 3 && VOWEL_RE.test(w.slice(0, -2))) w = undouble(w.slice(0, -2));
  const cut = (suffix: string, min = 4): boolean => {
    if (w.endsWith(suffix) && w.length - suffix.length >= min) { w = w.slice(0, -suffix.length); return true; }
    return false;
  };
  if (cut('ization')) w += 'iz';
  else if (cut('ation') || cut('ment') || cut('ness') || cut('ency') || cut('ence') || cut('ity') || cut('ly')) { /* one derivational suffix at most */ }
  else if (w.endsWith('er') && w.length - 2 >= 4) w = undouble(w.slice(0, -2));
  if (w.endsWith('e') && w.length > 4) w = w.slice(0, -1);
  if (w.endsWith('at') && w.length - 2 >= 4) w = w.slice(0, -2);
  if (w.endsWith('y') && w.length > 4) w = w.slice(0, -1) + 'i';
  return w;
}
