//! The whole "what next?" of a paginated walk, as one pure function over what the pages so
//! far said, tested exhaustively below; the streams only send and decode.

use std::collections::HashSet;

use serde_json::Value;

use super::{PaginationError, Paging, PagingStyle};

/// Where a request of the walk starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Position {
    /// The first request of a cursor walk, sent as the caller built it.
    Initial,
    /// Items to skip.
    Offset(u64),
    /// A page number.
    Page(u64),
    /// Cursor values, by query parameter.
    Cursor(Vec<(&'static str, Value)>),
}

/// What one answer said about the walk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageFacts {
    /// How many items it held.
    pub items: usize,
    /// A hash of its first and last items (and count), to recognise a page served twice;
    /// `None` for an empty page.
    pub fingerprint: Option<u64>,
    /// The total the answer reported.
    pub total: Option<u64>,
    /// The "there is more" flag the answer reported.
    pub has_more: Option<bool>,
    /// For cursor walks: each cursor parameter's next value, `None` when the answer has none.
    pub cursor: Vec<(&'static str, Option<Value>)>,
}

/// What the walk has seen so far.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Pages received.
    pub pages: usize,
    /// Items received.
    pub items: u64,
    /// How many items the first page held: the page size when the caller set none.
    pub first_page_items: Option<usize>,
    /// The previous page's fingerprint.
    pub previous_fingerprint: Option<u64>,
    /// Every cursor sent, canonically encoded.
    pub cursors_sent: HashSet<String>,
}

impl Progress {
    /// Notes a cursor as sent.
    pub fn sent(&mut self, position: &Position) {
        if let Position::Cursor(values) = position {
            self.cursors_sent.insert(cursor_key(values));
        }
    }

    /// Notes a received page.
    pub fn received(&mut self, page: &PageFacts) {
        self.pages += 1;
        self.items += page.items as u64;
        self.first_page_items.get_or_insert(page.items);
        self.previous_fingerprint = page.fingerprint;
    }
}

/// The walk's next move.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// This page was the last.
    End,
    /// Request this position next.
    Next(Position),
    /// Stop with an error: going on would loop.
    Fail(PaginationError),
}

/// Decides what follows the page `page`, received for `at`, given the walk so far (`before`,
/// not yet counting this page) and the page size asked for (`None`: the server's default).
pub fn next_step(
    paging: &Paging,
    page_size: Option<u64>,
    at: &Position,
    before: &Progress,
    page: &PageFacts,
) -> Step {
    let number = before.pages + 1;
    if page.items == 0 {
        return Step::End;
    }
    if page.fingerprint.is_some() && page.fingerprint == before.previous_fingerprint {
        return Step::Fail(PaginationError::RepeatedPage { page: number });
    }
    let seen = before.items + page.items as u64;
    if page.total.is_some_and(|total| seen >= total) || page.has_more == Some(false) {
        return Step::End;
    }
    // A page shorter than asked is the last, unless the answer says there is more (a server
    // may cap the size below what was asked).
    let more_said = page.has_more == Some(true) || page.total.is_some();
    let expected = page_size.or(before.first_page_items.map(|n| n as u64));
    if !more_said && expected.is_some_and(|size| (page.items as u64) < size) {
        return Step::End;
    }
    match (paging.style, at) {
        (PagingStyle::Offset { .. }, Position::Offset(offset)) => {
            Step::Next(Position::Offset(offset + page.items as u64))
        }
        (PagingStyle::PageNumber { .. }, Position::Page(n)) => Step::Next(Position::Page(n + 1)),
        (PagingStyle::Cursor { .. }, _) => {
            let values: Vec<(&'static str, Value)> = page
                .cursor
                .iter()
                .filter_map(|(param, value)| {
                    value
                        .as_ref()
                        .filter(|v| !v.is_null() && v.as_str() != Some(""))
                        .map(|v| (*param, v.clone()))
                })
                .collect();
            if values.is_empty() {
                return Step::End;
            }
            if before.cursors_sent.contains(&cursor_key(&values)) {
                let param = values.iter().map(|(p, _)| *p).collect::<Vec<_>>().join("+");
                return Step::Fail(PaginationError::RepeatedCursor {
                    param,
                    page: number,
                });
            }
            Step::Next(Position::Cursor(values))
        }
        // A position of another style cannot come from this walk; ending is the safe answer.
        _ => Step::End,
    }
}

fn cursor_key(values: &[(&'static str, Value)]) -> String {
    let mut key = String::new();
    for (param, value) in values {
        key.push_str(param);
        key.push('=');
        key.push_str(&value.to_string());
        key.push('&');
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pagination::{CursorParam, CursorSource};
    use serde_json::json;

    const OFFSET: Paging = Paging {
        operation_id: "list_offset",
        style: PagingStyle::Offset { param: "offset" },
        page_size_param: Some("limit"),
        max_page_size: Some(100),
        default_page_size: None,
        items: "items",
        total: None,
        has_more: None,
    };
    const PAGE: Paging = Paging {
        operation_id: "list_pages",
        style: PagingStyle::PageNumber {
            param: "page",
            first: 1,
        },
        ..OFFSET
    };
    const CURSOR: Paging = Paging {
        operation_id: "list_cursor",
        style: PagingStyle::Cursor {
            params: &[CursorParam {
                param: "cursor",
                source: CursorSource::Response("/nextCursor"),
            }],
        },
        ..OFFSET
    };

    fn page(items: usize, fingerprint: u64) -> PageFacts {
        PageFacts {
            items,
            fingerprint: (items > 0).then_some(fingerprint),
            ..PageFacts::default()
        }
    }

    fn after(pages: &[PageFacts]) -> Progress {
        let mut progress = Progress::default();
        for p in pages {
            progress.received(p);
        }
        progress
    }

    #[test]
    fn a_full_page_moves_on_by_the_items_received() {
        let at = Position::Offset(20);
        let step = next_step(
            &OFFSET,
            Some(10),
            &at,
            &after(&[page(10, 1), page(10, 2)]),
            &page(10, 3),
        );
        assert_eq!(step, Step::Next(Position::Offset(30)));
        let step = next_step(
            &PAGE,
            Some(10),
            &Position::Page(3),
            &after(&[page(10, 1)]),
            &page(10, 3),
        );
        assert_eq!(step, Step::Next(Position::Page(4)));
    }

    #[test]
    fn an_empty_page_ends_every_style_even_with_a_next_cursor_or_more_said() {
        let mut empty = page(0, 0);
        empty.has_more = Some(true);
        empty.total = Some(1000);
        empty.cursor = vec![("cursor", Some(json!("c2")))];
        for paging in [&OFFSET, &PAGE, &CURSOR] {
            for at in [Position::Offset(0), Position::Page(1), Position::Initial] {
                assert_eq!(
                    next_step(paging, Some(10), &at, &Progress::default(), &empty),
                    Step::End
                );
            }
        }
    }

    #[test]
    fn a_short_page_ends_unless_the_answer_says_there_is_more() {
        let short = page(7, 1);
        assert_eq!(
            next_step(
                &OFFSET,
                Some(10),
                &Position::Offset(0),
                &Progress::default(),
                &short
            ),
            Step::End
        );
        let mut capped = page(7, 1);
        capped.has_more = Some(true);
        assert_eq!(
            next_step(
                &OFFSET,
                Some(10),
                &Position::Offset(0),
                &Progress::default(),
                &capped
            ),
            Step::Next(Position::Offset(7))
        );
        let mut counted = page(7, 1);
        counted.total = Some(30);
        assert_eq!(
            next_step(
                &OFFSET,
                Some(10),
                &Position::Offset(0),
                &Progress::default(),
                &counted
            ),
            Step::Next(Position::Offset(7))
        );
    }

    #[test]
    fn without_a_page_size_the_first_page_sets_it() {
        // The first page cannot be short: its length is the server's page size.
        assert_eq!(
            next_step(
                &PAGE,
                None,
                &Position::Page(1),
                &Progress::default(),
                &page(7, 1)
            ),
            Step::Next(Position::Page(2))
        );
        let before = after(&[page(7, 1)]);
        assert_eq!(
            next_step(&PAGE, None, &Position::Page(2), &before, &page(7, 2)),
            Step::Next(Position::Page(3))
        );
        assert_eq!(
            next_step(&PAGE, None, &Position::Page(2), &before, &page(3, 2)),
            Step::End
        );
    }

    #[test]
    fn the_total_reached_ends_even_on_a_full_page() {
        let mut last = page(10, 3);
        last.total = Some(30);
        let before = after(&[page(10, 1), page(10, 2)]);
        assert_eq!(
            next_step(&OFFSET, Some(10), &Position::Offset(20), &before, &last),
            Step::End
        );
        last.total = Some(31);
        assert_eq!(
            next_step(&OFFSET, Some(10), &Position::Offset(20), &before, &last),
            Step::Next(Position::Offset(30))
        );
    }

    #[test]
    fn has_more_false_ends_even_on_a_full_page() {
        let mut last = page(10, 1);
        last.has_more = Some(false);
        assert_eq!(
            next_step(
                &PAGE,
                Some(10),
                &Position::Page(1),
                &Progress::default(),
                &last
            ),
            Step::End
        );
    }

    #[test]
    fn a_page_repeating_the_previous_one_fails_instead_of_looping() {
        let before = after(&[page(10, 42)]);
        assert_eq!(
            next_step(&PAGE, Some(10), &Position::Page(2), &before, &page(10, 42)),
            Step::Fail(PaginationError::RepeatedPage { page: 2 })
        );
        assert_eq!(
            next_step(
                &OFFSET,
                Some(10),
                &Position::Offset(10),
                &before,
                &page(10, 43)
            ),
            Step::Next(Position::Offset(20))
        );
    }

    #[test]
    fn a_cursor_walk_follows_the_answers_cursor_and_ends_without_one() {
        let mut first = page(10, 1);
        first.cursor = vec![("cursor", Some(json!("c2")))];
        let mut progress = Progress::default();
        progress.sent(&Position::Initial);
        assert_eq!(
            next_step(&CURSOR, Some(10), &Position::Initial, &progress, &first),
            Step::Next(Position::Cursor(vec![("cursor", json!("c2"))]))
        );
        for missing in [None, Some(Value::Null), Some(json!(""))] {
            let mut last = page(10, 2);
            last.cursor = vec![("cursor", missing)];
            assert_eq!(
                next_step(&CURSOR, Some(10), &Position::Initial, &progress, &last),
                Step::End
            );
        }
    }

    #[test]
    fn a_cursor_sent_before_fails_instead_of_looping() {
        let mut progress = Progress::default();
        let sent = Position::Cursor(vec![("cursor", json!("c2"))]);
        progress.sent(&sent);
        progress.received(&page(10, 1));
        let mut again = page(10, 2);
        again.cursor = vec![("cursor", Some(json!("c2")))];
        assert_eq!(
            next_step(&CURSOR, Some(10), &sent, &progress, &again),
            Step::Fail(PaginationError::RepeatedCursor {
                param: "cursor".into(),
                page: 2
            })
        );
    }

    #[test]
    fn a_two_part_cursor_is_new_when_either_part_is() {
        let mut progress = Progress::default();
        let sent = Position::Cursor(vec![("startAfter", json!(5)), ("startAfterId", json!("a"))]);
        progress.sent(&sent);
        let mut next = page(10, 2);
        next.cursor = vec![
            ("startAfter", Some(json!(5))),
            ("startAfterId", Some(json!("b"))),
        ];
        assert_eq!(
            next_step(&CURSOR, Some(10), &sent, &progress, &next),
            Step::Next(Position::Cursor(vec![
                ("startAfter", json!(5)),
                ("startAfterId", json!("b"))
            ]))
        );
    }
}
