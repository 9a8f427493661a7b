//! Word expansion: variables, then globs against the target's filesystem.
//!
//! Simpler than POSIX on purpose: a variable's value is never split into
//! several words, so a file name with spaces stays one argument.

use super::Ctx;
use super::parse::{Part, Word};

/// A character of a word after variable expansion; `glob` is false when it
/// came from quotes or a variable and must match literally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PChar {
    c: char,
    glob: bool,
}

/// Expand one word into one or more arguments.
pub fn expand_word(word: &Word, ctx: &Ctx) -> Vec<String> {
    let mut chars: Vec<PChar> = Vec::new();
    for part in &word.0 {
        match part {
            Part::Lit { text, quoted } => {
                chars.extend(text.chars().map(|c| PChar { c, glob: !quoted }))
            }
            Part::Var { name, .. } => {
                let value = ctx.var(name);
                chars.extend(value.chars().map(|c| PChar { c, glob: false }));
            }
        }
    }
    let has_glob = chars
        .iter()
        .any(|p| p.glob && matches!(p.c, '*' | '?' | '['));
    let literal: String = chars.iter().map(|p| p.c).collect();
    if !has_glob {
        return vec![literal];
    }
    let matches = glob(&chars, ctx);
    if matches.is_empty() {
        // As in sh: an unmatched pattern stays as it was typed.
        vec![literal]
    } else {
        matches
    }
}

/// Expand every word of a command.
pub fn expand_words(words: &[Word], ctx: &Ctx) -> Vec<String> {
    words.iter().flat_map(|w| expand_word(w, ctx)).collect()
}

/// Expand a redirect target: exactly one word, no globbing surprises.
pub fn expand_single(word: &Word, ctx: &Ctx) -> Result<String, String> {
    let mut v = expand_word(word, ctx);
    if v.len() == 1 {
        Ok(v.remove(0))
    } else {
        Err(format!("ambiguous redirect: {} files match", v.len()))
    }
}

/// Walk the pattern component by component.
fn glob(pattern: &[PChar], ctx: &Ctx) -> Vec<String> {
    let absolute = pattern.first().is_some_and(|p| p.c == '/');
    let comps: Vec<&[PChar]> = pattern
        .split(|p| p.c == '/')
        .filter(|c| !c.is_empty())
        .collect();
    // Each candidate: (path as shown to the user, absolute path in the target).
    let start_shown = if absolute {
        "/".to_string()
    } else {
        String::new()
    };
    let start_abs = if absolute {
        "/".to_string()
    } else {
        ctx.cwd.clone()
    };
    let mut found = vec![(start_shown, start_abs)];
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let has_glob = comp
            .iter()
            .any(|p| p.glob && matches!(p.c, '*' | '?' | '['));
        let mut next = Vec::new();
        for (shown, abs) in &found {
            let join = |name: &str| {
                let shown = if shown.is_empty() || shown.ends_with('/') {
                    format!("{shown}{name}")
                } else {
                    format!("{shown}/{name}")
                };
                let abs = if abs.ends_with('/') {
                    format!("{abs}{name}")
                } else {
                    format!("{abs}/{name}")
                };
                (shown, abs)
            };
            if !has_glob {
                let name: String = comp.iter().map(|p| p.c).collect();
                let cand = join(&name);
                if last || ctx.resolve(&cand.1).is_dir() {
                    next.push(cand);
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(ctx.resolve(abs)) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.') || comp.first().is_some_and(|p| p.c == '.'))
                .filter(|n| fnmatch(comp, n))
                .collect();
            names.sort();
            for n in names {
                let cand = join(&n);
                if last || ctx.resolve(&cand.1).is_dir() {
                    next.push(cand);
                }
            }
        }
        found = next;
        if found.is_empty() {
            break;
        }
    }
    if comps.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<String> = found.into_iter().map(|(shown, _)| shown).collect();
    if !absolute {
        out.retain(|s| !s.is_empty());
    }
    out
}

/// Shell pattern matching: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`.
fn fnmatch(pat: &[PChar], name: &str) -> bool {
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pat.len() {
            let pc = pat[p];
            if pc.glob && pc.c == '*' {
                star = Some((p, n));
                p += 1;
                continue;
            }
            if pc.glob && pc.c == '?' {
                p += 1;
                n += 1;
                continue;
            }
            if pc.glob
                && pc.c == '['
                && let Some((matched, len)) = bracket(&pat[p..], name[n])
            {
                if matched {
                    p += len;
                    n += 1;
                    continue;
                }
            } else if pc.c == name[n] {
                p += 1;
                n += 1;
                continue;
            }
        }
        match star {
            Some((sp, sn)) => {
                p = sp + 1;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|pc| pc.glob && pc.c == '*')
}

/// Match `c` against a bracket expression at the start of `pat`; returns
/// (matched, length of the expression) or None when it is not closed.
fn bracket(pat: &[PChar], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = pat.get(i).is_some_and(|p| p.c == '!' || p.c == '^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < pat.len() {
        let pc = pat[i].c;
        if pc == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if pat.get(i + 1).is_some_and(|p| p.c == '-') && pat.get(i + 2).is_some_and(|p| p.c != ']')
        {
            let hi = pat[i + 2].c;
            if pc <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if pc == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> Vec<PChar> {
        s.chars().map(|c| PChar { c, glob: true }).collect()
    }

    #[test]
    fn fnmatch_basics() {
        assert!(fnmatch(&pat("*.log"), "app.log"));
        assert!(!fnmatch(&pat("*.log"), "app.txt"));
        assert!(fnmatch(&pat("a?c"), "abc"));
        assert!(fnmatch(&pat("[a-c]x"), "bx"));
        assert!(!fnmatch(&pat("[!a-c]x"), "bx"));
        assert!(fnmatch(&pat("*"), ""));
        assert!(fnmatch(&pat("a*b*c"), "aXXbYYc"));
        assert!(!fnmatch(&pat("a*b*c"), "aXXbYY"));
        assert!(fnmatch(&pat("[x"), "[x"));
    }

    #[test]
    fn quoted_stars_match_literally() {
        let p = vec![PChar {
            c: '*',
            glob: false,
        }];
        assert!(fnmatch(&p, "*"));
        assert!(!fnmatch(&p, "abc"));
    }
}
