//! The mini-shell's grammar: words with '' "" and \ quoting, `$VAR`,
//! `${VAR}`, `$?`, globs, `;` `&&` `||`, `|`, and `<` `>` `>>` `2>` `2>>`
//! `2>&1`. `#` starts a comment at the beginning of a word. Newlines
//! separate commands like `;`.
//!
//! Parsing never fails with a panic: every malformed line is a [`ParseError`]
//! naming what is wrong.

/// One piece of a word, before expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text; `quoted` text is not glob-expanded.
    Lit { text: String, quoted: bool },
    /// `$NAME`, `${NAME}` or `$?`.
    Var { name: String, quoted: bool },
}

/// A word is the concatenation of its parts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word(pub Vec<Part>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    /// `< file`
    Input,
    /// `> file`, `2> file`
    Output,
    /// `>> file`, `2>> file`
    Append,
    /// `2>&1`
    ErrToOut,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// 0, 1 or 2.
    pub fd: u8,
    pub kind: RedirectKind,
    /// Empty for `2>&1`.
    pub target: Word,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
}

/// Commands joined by `|`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pipeline(pub Vec<Command>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connector {
    And,
    Or,
}

/// Pipelines joined by `&&` and `||`, run left to right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Connector, Pipeline)>,
}

/// A whole line: and-or lists separated by `;` or newlines.
pub type Script = Vec<AndOr>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unterminated {0} quote")]
    UnterminatedQuote(&'static str),
    #[error("unterminated ${{...}}")]
    UnterminatedBrace,
    #[error("bad variable name in ${{{0}}}")]
    BadVariable(String),
    #[error("syntax error near `{0}`")]
    Unexpected(String),
    #[error("`{0}` needs a file name after it")]
    MissingRedirectTarget(String),
    #[error("background jobs (`&`) are not supported")]
    Background,
    #[error("a backslash at the end of the line escapes nothing")]
    TrailingBackslash,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(Word),
    Semi,
    And,
    Or,
    Pipe,
    Redir(u8, RedirectKind),
}

impl Token {
    fn show(&self) -> String {
        match self {
            Token::Word(_) => "word".into(),
            Token::Semi => ";".into(),
            Token::And => "&&".into(),
            Token::Or => "||".into(),
            Token::Pipe => "|".into(),
            Token::Redir(fd, kind) => {
                let op = match kind {
                    RedirectKind::Input => "<",
                    RedirectKind::Output => ">",
                    RedirectKind::Append => ">>",
                    RedirectKind::ErrToOut => ">&1",
                };
                if *fd == 2 || *kind == RedirectKind::ErrToOut {
                    format!("2{op}")
                } else {
                    op.to_string()
                }
            }
        }
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    tokens: Vec<Token>,
    word: Vec<Part>,
    /// A word has started (even an empty one: `''`).
    in_word: bool,
}

impl Lexer<'_> {
    fn push_lit(&mut self, c: char, quoted: bool) {
        self.in_word = true;
        if let Some(Part::Lit { text, quoted: q }) = self.word.last_mut()
            && *q == quoted
        {
            text.push(c);
            return;
        }
        self.word.push(Part::Lit {
            text: c.to_string(),
            quoted,
        });
    }

    fn end_word(&mut self) {
        if self.in_word {
            self.tokens
                .push(Token::Word(Word(std::mem::take(&mut self.word))));
            self.in_word = false;
        }
    }

    /// After a '$': a variable, or a literal '$'.
    fn dollar(&mut self, quoted: bool) -> Result<(), ParseError> {
        match self.chars.peek().copied() {
            Some('?') => {
                self.chars.next();
                self.var("?".into(), quoted);
            }
            Some('{') => {
                self.chars.next();
                let mut name = String::new();
                loop {
                    match self.chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err(ParseError::UnterminatedBrace),
                    }
                }
                let valid = name == "?"
                    || (name.starts_with(is_name_start) && name.chars().all(is_name_char));
                if !valid {
                    return Err(ParseError::BadVariable(name));
                }
                self.var(name, quoted);
            }
            Some(c) if is_name_start(c) => {
                let mut name = String::new();
                while let Some(&c) = self.chars.peek() {
                    if !is_name_char(c) {
                        break;
                    }
                    name.push(c);
                    self.chars.next();
                }
                self.var(name, quoted);
            }
            _ => self.push_lit('$', quoted),
        }
        Ok(())
    }

    fn var(&mut self, name: String, quoted: bool) {
        self.in_word = true;
        self.word.push(Part::Var { name, quoted });
    }

    fn run(mut self) -> Result<Vec<Token>, ParseError> {
        while let Some(c) = self.chars.next() {
            match c {
                ' ' | '\t' | '\r' => self.end_word(),
                '\n' | ';' => {
                    self.end_word();
                    self.tokens.push(Token::Semi);
                }
                '#' if !self.in_word => {
                    // A comment runs to the end of the line.
                    for c in self.chars.by_ref() {
                        if c == '\n' {
                            self.tokens.push(Token::Semi);
                            break;
                        }
                    }
                }
                '\'' => {
                    self.in_word = true;
                    loop {
                        match self.chars.next() {
                            Some('\'') => break,
                            Some(c) => self.push_lit(c, true),
                            None => return Err(ParseError::UnterminatedQuote("single")),
                        }
                    }
                }
                '"' => {
                    self.in_word = true;
                    loop {
                        match self.chars.next() {
                            Some('"') => break,
                            Some('\\') => match self.chars.next() {
                                Some(c @ ('"' | '\\' | '$' | '`')) => self.push_lit(c, true),
                                Some('\n') => {}
                                Some(c) => {
                                    self.push_lit('\\', true);
                                    self.push_lit(c, true);
                                }
                                None => return Err(ParseError::UnterminatedQuote("double")),
                            },
                            Some('$') => self.dollar(true)?,
                            Some(c) => self.push_lit(c, true),
                            None => return Err(ParseError::UnterminatedQuote("double")),
                        }
                    }
                }
                '\\' => match self.chars.next() {
                    Some('\n') => {}
                    Some(c) => self.push_lit(c, true),
                    None => return Err(ParseError::TrailingBackslash),
                },
                '$' => self.dollar(false)?,
                '|' => {
                    self.end_word();
                    if self.chars.next_if_eq(&'|').is_some() {
                        self.tokens.push(Token::Or);
                    } else {
                        self.tokens.push(Token::Pipe);
                    }
                }
                '&' => {
                    self.end_word();
                    if self.chars.next_if_eq(&'&').is_some() {
                        self.tokens.push(Token::And);
                    } else {
                        return Err(ParseError::Background);
                    }
                }
                '<' => {
                    self.end_word();
                    self.tokens.push(Token::Redir(0, RedirectKind::Input));
                }
                '>' => {
                    // `2>` when the word so far is exactly "2".
                    let fd = if self.word
                        == [Part::Lit {
                            text: "2".into(),
                            quoted: false,
                        }] {
                        self.word.clear();
                        self.in_word = false;
                        2
                    } else {
                        self.end_word();
                        1
                    };
                    if fd == 2 && self.chars.peek() == Some(&'&') {
                        self.chars.next();
                        if self.chars.next_if_eq(&'1').is_some() {
                            self.tokens.push(Token::Redir(2, RedirectKind::ErrToOut));
                            continue;
                        }
                        return Err(ParseError::Unexpected("2>&".into()));
                    }
                    let kind = if self.chars.next_if_eq(&'>').is_some() {
                        RedirectKind::Append
                    } else {
                        RedirectKind::Output
                    };
                    self.tokens.push(Token::Redir(fd, kind));
                }
                c => self.push_lit(c, false),
            }
        }
        self.end_word();
        Ok(self.tokens)
    }
}

fn lex(line: &str) -> Result<Vec<Token>, ParseError> {
    Lexer {
        chars: line.chars().peekable(),
        tokens: Vec::new(),
        word: Vec::new(),
        in_word: false,
    }
    .run()
}

/// Parse one line (or a `-c` string) into a script.
pub fn parse(line: &str) -> Result<Script, ParseError> {
    let tokens = lex(line)?;
    let mut script = Vec::new();
    let mut iter = tokens.into_iter().peekable();
    loop {
        // Skip empty statements: `;;` and blank lines are harmless.
        while iter.next_if_eq(&Token::Semi).is_some() {}
        if iter.peek().is_none() {
            break;
        }
        let first = pipeline(&mut iter)?;
        let mut rest = Vec::new();
        loop {
            let conn = match iter.peek() {
                Some(Token::And) => Connector::And,
                Some(Token::Or) => Connector::Or,
                Some(Token::Semi) | None => break,
                Some(t) => return Err(ParseError::Unexpected(t.show())),
            };
            iter.next();
            rest.push((conn, pipeline(&mut iter)?));
        }
        script.push(AndOr { first, rest });
    }
    Ok(script)
}

fn pipeline(
    iter: &mut std::iter::Peekable<std::vec::IntoIter<Token>>,
) -> Result<Pipeline, ParseError> {
    let mut commands = vec![command(iter)?];
    while iter.next_if_eq(&Token::Pipe).is_some() {
        commands.push(command(iter)?);
    }
    Ok(Pipeline(commands))
}

fn command(
    iter: &mut std::iter::Peekable<std::vec::IntoIter<Token>>,
) -> Result<Command, ParseError> {
    let mut cmd = Command::default();
    loop {
        match iter.peek() {
            Some(Token::Word(_)) => {
                if let Some(Token::Word(w)) = iter.next() {
                    cmd.words.push(w);
                }
            }
            Some(Token::Redir(..)) => {
                let Some(tok @ Token::Redir(fd, kind)) = iter.next() else {
                    unreachable!("peeked a redirect")
                };
                let target = if kind == RedirectKind::ErrToOut {
                    Word::default()
                } else {
                    match iter.next() {
                        Some(Token::Word(w)) => w,
                        _ => return Err(ParseError::MissingRedirectTarget(tok.show())),
                    }
                };
                cmd.redirects.push(Redirect { fd, kind, target });
            }
            Some(t) => {
                if cmd.words.is_empty() && cmd.redirects.is_empty() {
                    return Err(ParseError::Unexpected(t.show()));
                }
                break;
            }
            None => break,
        }
    }
    if cmd.words.is_empty() {
        return Err(match iter.peek() {
            Some(t) => ParseError::Unexpected(t.show()),
            None if !cmd.redirects.is_empty() => ParseError::Unexpected("redirect".into()),
            None => ParseError::Unexpected("end of line".into()),
        });
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Part {
        Part::Lit {
            text: s.into(),
            quoted: false,
        }
    }

    fn qlit(s: &str) -> Part {
        Part::Lit {
            text: s.into(),
            quoted: true,
        }
    }

    fn words(line: &str) -> Vec<Word> {
        let script = parse(line).unwrap();
        script[0].first.0[0].words.clone()
    }

    #[test]
    fn words_and_quotes() {
        assert_eq!(
            words(r#"echo 'a b' "c d" e\ f"#),
            [
                Word(vec![lit("echo")]),
                Word(vec![qlit("a b")]),
                Word(vec![qlit("c d")]),
                Word(vec![lit("e"), qlit(" "), lit("f")]),
            ]
        );
    }

    #[test]
    fn empty_quotes_make_an_empty_word() {
        assert_eq!(words("echo ''"), [Word(vec![lit("echo")]), Word(vec![])]);
    }

    #[test]
    fn variables_in_and_out_of_quotes() {
        assert_eq!(
            words(r#"echo $HOME "${USER}x" '$NOT' $? $"#),
            [
                Word(vec![lit("echo")]),
                Word(vec![Part::Var {
                    name: "HOME".into(),
                    quoted: false
                }]),
                Word(vec![
                    Part::Var {
                        name: "USER".into(),
                        quoted: true
                    },
                    qlit("x")
                ]),
                Word(vec![qlit("$NOT")]),
                Word(vec![Part::Var {
                    name: "?".into(),
                    quoted: false
                }]),
                Word(vec![lit("$")]),
            ]
        );
    }

    #[test]
    fn operators_build_the_tree() {
        let script = parse("a | b && c || d; e").unwrap();
        assert_eq!(script.len(), 2);
        assert_eq!(script[0].first.0.len(), 2);
        assert_eq!(script[0].rest.len(), 2);
        assert_eq!(script[0].rest[0].0, Connector::And);
        assert_eq!(script[0].rest[1].0, Connector::Or);
    }

    #[test]
    fn redirects_parse() {
        let script = parse("ls > out 2>&1 >> app 2> err < in").unwrap();
        let r = &script[0].first.0[0].redirects;
        assert_eq!(r.len(), 5);
        assert_eq!((r[0].fd, r[0].kind), (1, RedirectKind::Output));
        assert_eq!((r[1].fd, r[1].kind), (2, RedirectKind::ErrToOut));
        assert_eq!((r[2].fd, r[2].kind), (1, RedirectKind::Append));
        assert_eq!((r[3].fd, r[3].kind), (2, RedirectKind::Output));
        assert_eq!((r[4].fd, r[4].kind), (0, RedirectKind::Input));
        assert_eq!(r[4].target, Word(vec![lit("in")]));
    }

    #[test]
    fn comments_and_blank_statements() {
        assert!(parse("# nothing").unwrap().is_empty());
        assert_eq!(parse(";; a ;\n\n b # c").unwrap().len(), 2);
        assert_eq!(words("echo a#b")[1], Word(vec![lit("a#b")]));
    }

    #[test]
    fn malformed_lines_are_errors() {
        for (line, want) in [
            ("echo 'abc", ParseError::UnterminatedQuote("single")),
            ("echo \"abc", ParseError::UnterminatedQuote("double")),
            ("a | | b", ParseError::Unexpected("|".into())),
            ("| a", ParseError::Unexpected("|".into())),
            ("a &&", ParseError::Unexpected("end of line".into())),
            ("a ; && b", ParseError::Unexpected("&&".into())),
            ("a &", ParseError::Background),
            ("ls >", ParseError::MissingRedirectTarget(">".into())),
            ("echo ${A", ParseError::UnterminatedBrace),
            ("echo ${1x}", ParseError::BadVariable("1x".into())),
            ("echo \\", ParseError::TrailingBackslash),
        ] {
            assert_eq!(parse(line), Err(want), "{line:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn no_input_panics(line in "\\PC*") {
            let _ = parse(&line);
        }

        #[test]
        fn shell_chars_never_panic(line in "[ a$'\"\\\\|&;<>2{}?#\n]{0,40}") {
            let _ = parse(&line);
        }
    }
}
