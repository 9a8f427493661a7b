//! Text from the target made safe for XML 1.0.
//!
//! Findings carry what the target controls (paths, log lines, image
//! names, a system call's arguments), so every string written into a
//! report goes through here: first the terminal escaping every other
//! output uses ([`crate::term::escape::text`]: C0 and C1 controls, DEL and bidi
//! overrides shown as `\e`, `\x9b`, `\u{202e}`), which also removes every
//! character XML 1.0 forbids below U+0020; then the noncharacters U+FFFE
//! and U+FFFF, which XML forbids too, shown the same way; then the five
//! markup characters as entities. In attributes, newlines and tabs are
//! character references, or a parser would fold them into spaces.

/// Escaped for element content: newlines and tabs kept.
pub fn text(s: &str) -> String {
    escape(s, false)
}

/// Escaped for a double- or single-quoted attribute value.
pub fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let safe = crate::term::escape::text(s.as_bytes());
    let mut out = String::with_capacity(safe.len() + 16);
    for c in safe.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\u{fffe}' | '\u{ffff}' => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether every character is one XML 1.0 allows (its `Char`
    /// production).
    fn xml_chars(s: &str) -> bool {
        s.chars().all(|c| {
            matches!(c as u32,
                0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
        })
    }

    #[test]
    fn markup_characters_become_entities() {
        assert_eq!(
            text("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
    }

    #[test]
    fn controls_and_noncharacters_xml_forbids_are_shown_escaped() {
        let hostile = "a\u{0}b\u{1b}[31mc\u{7}d\u{9b}e\u{fffe}f\u{ffff}g\u{202e}h\r";
        for out in [text(hostile), attr(hostile)] {
            assert!(xml_chars(&out), "{out:?}");
            assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
            assert!(
                out.contains("\\e[31m") && out.contains("\\u{fffe}"),
                "{out:?}"
            );
        }
    }

    #[test]
    fn attributes_keep_newlines_and_tabs_as_references() {
        assert_eq!(attr("a\nb\tc"), "a&#10;b&#9;c");
        assert_eq!(text("a\nb\tc"), "a\nb\tc");
    }
}
