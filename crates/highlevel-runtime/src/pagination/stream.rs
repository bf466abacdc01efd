//! `Pages` and `Items`: the streams behind the generated `.pages()` and `.stream()`.

use std::collections::VecDeque;
use std::future::Future;
use std::hash::{DefaultHasher, Hasher};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::stream::{FuturesOrdered, StreamExt as _};
use serde_json::Value;

use super::decide::{PageFacts, Position, Progress, Step, next_step};
use super::{CursorSource, Paginated, PaginationError, Paging, PagingStyle};
use crate::Error;

/// One page request in flight.
pub type PageFuture<'a, P> = Pin<Box<dyn Future<Output = Result<P, Error>> + Send + 'a>>;

/// A list operation's `send()` future as a [`PageFuture`]: the page without its response
/// metadata.
#[doc(hidden)]
pub fn page_request<'a, P>(
    sent: impl Future<Output = Result<crate::ResponseValue<P>, Error>> + Send + 'a,
) -> PageFuture<'a, P> {
    Box::pin(async move { sent.await.map(crate::ResponseValue::into_inner) })
}

/// The most page requests [`Pages::prefetch`] keeps ahead of the one being waited for.
pub const MAX_PREFETCH: usize = 8;

type Landed<'a, P> = Pin<Box<dyn Future<Output = (Position, Result<P, Error>)> + Send + 'a>>;

/// A lazy stream of whole pages of a list operation, from its generated `.pages()`.
///
/// One request is in flight at a time unless [`Pages::prefetch`] asks for more (offset and
/// page-number walks only: a cursor comes from the answer before it). Empty pages are not
/// yielded. After an error the stream ends.
#[must_use = "streams do nothing unless polled"]
pub struct Pages<'a, R: Paginated + 'a> {
    template: R,
    page_size: Option<u64>,
    prefetch: usize,
    progress: Progress,
    /// The position the next launched request asks for.
    unlaunched: Option<Position>,
    /// Positions launched and not yet decided on, oldest first.
    launched: VecDeque<Position>,
    in_flight: FuturesOrdered<Landed<'a, R::Page>>,
    landed: VecDeque<(Position, Result<R::Page, Error>)>,
    /// An error to report after the page that caused it.
    deferred: Option<Error>,
    done: bool,
}

impl<'a, R: Paginated + 'a> std::fmt::Debug for Pages<'a, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("operation_id", &R::paging().operation_id)
            .field("page_size", &self.page_size)
            .field("prefetch", &self.prefetch)
            .field("pages", &self.progress.pages)
            .field("items", &self.progress.items)
            .field("in_flight", &self.launched.len())
            .field("done", &self.done)
            .finish()
    }
}

impl<'a, R: Paginated + 'a> Pages<'a, R> {
    /// Pages through the operation `builder` was set up for, from the position it names (an
    /// `offset`, `page` or cursor already set on it) or the first page.
    pub fn new(builder: R) -> Self {
        let paging = R::paging();
        let start = match paging.style {
            PagingStyle::Offset { param } => {
                Position::Offset(builder.requested_number(param).unwrap_or(0))
            }
            PagingStyle::PageNumber { param, first } => {
                Position::Page(builder.requested_number(param).unwrap_or(first))
            }
            PagingStyle::Cursor { .. } => Position::Initial,
        };
        let requested = paging
            .page_size_param
            .and_then(|param| builder.requested_number(param));
        let mut pages = Self {
            template: builder,
            page_size: None,
            prefetch: 0,
            progress: Progress::default(),
            unlaunched: Some(start),
            launched: VecDeque::new(),
            in_flight: FuturesOrdered::new(),
            landed: VecDeque::new(),
            deferred: None,
            done: false,
        };
        pages.set_page_size(requested);
        pages
    }

    /// Asks for `size` items per page, at most the operation's maximum. Without it: the size
    /// set on the builder, else the maximum, else the spec's default, else the server's.
    /// Operations without a page-size parameter ignore it.
    pub fn page_size(mut self, size: u64) -> Self {
        self.set_page_size(Some(size));
        self
    }

    /// Keeps up to `pages` further requests in flight while the current page is consumed
    /// (at most [`MAX_PREFETCH`]), for offset and page-number walks with a known page size.
    /// Requests past the end are discarded; they still count against the rate limit.
    pub fn prefetch(mut self, pages: usize) -> Self {
        self.prefetch = pages.min(MAX_PREFETCH);
        self
    }

    /// The page size asked for (`None`: the server's default).
    pub fn requested_page_size(&self) -> Option<u64> {
        self.page_size
    }

    /// How the operation pages.
    pub fn paging(&self) -> &'static Paging {
        R::paging()
    }

    fn set_page_size(&mut self, requested: Option<u64>) {
        let paging = R::paging();
        self.page_size = paging.effective_page_size(requested);
        if let (Some(param), Some(size)) = (paging.page_size_param, self.page_size) {
            match self.template.clone().with_query(param, &Value::from(size)) {
                Ok(template) => self.template = template,
                Err(reason) => self.deferred = Some(unusable(paging.operation_id, param, reason)),
            }
        }
    }

    /// Launches requests until the prefetch window is full or the next position is unknown.
    fn launch(&mut self) {
        while !self.done && self.launched.len() <= self.prefetch {
            let Some(position) = self.unlaunched.take() else {
                return;
            };
            let request = match self.at(&position) {
                Ok(request) => request,
                Err(error) => {
                    self.deferred
                        .get_or_insert(pagination_error(R::paging().operation_id, error));
                    return;
                }
            };
            self.unlaunched = self.ahead_of(&position);
            self.progress.sent(&position);
            self.launched.push_back(position.clone());
            let future = request.fetch();
            self.in_flight
                .push_back(Box::pin(async move { (position, future.await) }));
        }
    }

    /// The builder for one position.
    fn at(&self, position: &Position) -> Result<R, PaginationError> {
        let request = self.template.clone();
        let set = |request: R, param: &'static str, value: Value| {
            request
                .with_query(param, &value)
                .map_err(|reason| PaginationError::UnusableCursor { param, reason })
        };
        match (R::paging().style, position) {
            (PagingStyle::Offset { param }, Position::Offset(n))
            | (PagingStyle::PageNumber { param, .. }, Position::Page(n)) => {
                set(request, param, Value::from(*n))
            }
            (_, Position::Cursor(values)) => {
                values.iter().try_fold(request, |request, (param, value)| {
                    set(request, param, value.clone())
                })
            }
            _ => Ok(request),
        }
    }

    /// Where the request after `position` starts if this one comes back full, when that is
    /// known without its answer.
    fn ahead_of(&self, position: &Position) -> Option<Position> {
        let size = self.page_size?;
        match position {
            Position::Offset(n) => Some(Position::Offset(n + size)),
            Position::Page(n) => Some(Position::Page(n + 1)),
            Position::Initial | Position::Cursor(_) => None,
        }
    }

    /// Moves finished requests from `in_flight` to `landed`, so prefetched ones progress
    /// while the caller is busy with items.
    pub(crate) fn drive(&mut self, cx: &mut Context<'_>) {
        while let Poll::Ready(Some(done)) = self.in_flight.poll_next_unpin(cx) {
            self.landed.push_back(done);
        }
    }

    fn finish(&mut self) {
        self.done = true;
        self.unlaunched = None;
        self.launched.clear();
        self.landed.clear();
        self.in_flight = FuturesOrdered::new();
    }

    /// Decides on one landed page: `Some` to yield, `None` to poll on.
    fn decide(
        &mut self,
        at: Position,
        result: Result<R::Page, Error>,
    ) -> Option<Result<R::Page, Error>> {
        self.launched.pop_front();
        let page = match result {
            Ok(page) => page,
            Err(error) => {
                self.finish();
                return Some(Err(error));
            }
        };
        let paging = R::paging();
        let facts = facts::<R>(paging, &page);
        let step = next_step(paging, self.page_size, &at, &self.progress, &facts);
        self.progress.received(&facts);
        tracing::debug!(
            operation = paging.operation_id,
            page = self.progress.pages,
            items = facts.items,
            total = facts.total,
            "page received"
        );
        match step {
            Step::End => self.finish(),
            Step::Fail(PaginationError::RepeatedPage { page }) => {
                // The page holds items already yielded: report instead of yielding them again.
                self.finish();
                return Some(Err(pagination_error(
                    paging.operation_id,
                    PaginationError::RepeatedPage { page },
                )));
            }
            Step::Fail(error) => {
                self.finish();
                self.deferred = Some(pagination_error(paging.operation_id, error));
            }
            Step::Next(next) => {
                if self.launched.front() != Some(&next) {
                    // The answer moved differently than assumed (a short page with more to
                    // come): what was launched ahead asks for the wrong positions.
                    self.launched.clear();
                    self.landed.clear();
                    self.in_flight = FuturesOrdered::new();
                    self.unlaunched = Some(next);
                }
            }
        }
        (facts.items > 0).then_some(Ok(page))
    }
}

impl<'a, R: Paginated + 'a> Unpin for Pages<'a, R> {}

impl<'a, R: Paginated + 'a> Stream for Pages<'a, R> {
    type Item = Result<R::Page, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some((at, result)) = this.landed.pop_front() {
                if let Some(page) = this.decide(at, result) {
                    return Poll::Ready(Some(page));
                }
                continue;
            }
            if this.done || (this.launched.is_empty() && this.unlaunched.is_none()) {
                this.done = true;
                return Poll::Ready(this.deferred.take().map(Err));
            }
            if let Some(error) = this.deferred.take() {
                this.finish();
                return Poll::Ready(Some(Err(error)));
            }
            this.launch();
            if this.launched.is_empty() {
                continue;
            }
            match this.in_flight.poll_next_unpin(cx) {
                Poll::Ready(Some(done)) => this.landed.push_back(done),
                Poll::Ready(None) => {
                    this.launched.clear();
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// A lazy stream of the items of every page, from a list operation's generated `.stream()`.
#[must_use = "streams do nothing unless polled"]
pub struct Items<'a, R: Paginated + 'a> {
    pages: Pages<'a, R>,
    buffer: std::vec::IntoIter<R::Item>,
}

impl<'a, R: Paginated + 'a> std::fmt::Debug for Items<'a, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Items")
            .field("pages", &self.pages)
            .field("buffered", &self.buffer.len())
            .finish()
    }
}

impl<'a, R: Paginated + 'a> Items<'a, R> {
    /// The items of every page of `builder`'s operation.
    pub fn new(builder: R) -> Self {
        Self {
            pages: Pages::new(builder),
            buffer: Vec::new().into_iter(),
        }
    }

    /// See [`Pages::page_size`].
    pub fn page_size(mut self, size: u64) -> Self {
        self.pages = self.pages.page_size(size);
        self
    }

    /// See [`Pages::prefetch`].
    pub fn prefetch(mut self, pages: usize) -> Self {
        self.pages = self.pages.prefetch(pages);
        self
    }

    /// The page stream underneath.
    pub fn pages(&self) -> &Pages<'a, R> {
        &self.pages
    }
}

impl<'a, R: Paginated + 'a> Unpin for Items<'a, R> {}

impl<'a, R: Paginated + 'a> Stream for Items<'a, R> {
    type Item = Result<R::Item, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.buffer.next() {
                this.pages.drive(cx);
                return Poll::Ready(Some(Ok(item)));
            }
            match this.pages.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(page))) => this.buffer = R::into_items(page).into_iter(),
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

fn unusable(operation_id: &'static str, param: &'static str, reason: String) -> Error {
    pagination_error(
        operation_id,
        PaginationError::UnusableCursor { param, reason },
    )
}

fn pagination_error(operation_id: &'static str, source: PaginationError) -> Error {
    Error::Pagination {
        operation_id,
        source,
    }
}

/// What a page says about the walk.
fn facts<R: Paginated>(paging: &Paging, page: &R::Page) -> PageFacts {
    let items = R::items(page);
    let envelope = R::envelope(page);
    let read = |pointer: Option<&str>| pointer.and_then(|p| envelope.pointer(p));
    let cursor = match paging.style {
        PagingStyle::Cursor { params } => params
            .iter()
            .map(|cursor| {
                let value = match cursor.source {
                    CursorSource::Response(pointer) => envelope.pointer(pointer).cloned(),
                    CursorSource::LastItem(pointers) => items
                        .last()
                        .and_then(|item| serde_json::to_value(item).ok())
                        .and_then(|item| {
                            pointers
                                .iter()
                                .find_map(|p| item.pointer(p).filter(|v| !v.is_null()).cloned())
                        }),
                };
                (cursor.param, value)
            })
            .collect(),
        _ => Vec::new(),
    };
    PageFacts {
        items: items.len(),
        fingerprint: fingerprint(items),
        total: read(paging.total).and_then(count),
        has_more: read(paging.has_more).and_then(flag),
        cursor,
    }
}

/// A hash of the first and last items and the count: equal for a page served twice,
/// different for any two pages of a list that moves on.
fn fingerprint<T: serde::Serialize>(items: &[T]) -> Option<u64> {
    let (first, last) = (items.first()?, items.last()?);
    let mut hasher = DefaultHasher::new();
    hasher.write_usize(items.len());
    for item in [first, last] {
        if serde_json::to_writer(HashWriter(&mut hasher), item).is_err() {
            return None;
        }
    }
    Some(hasher.finish())
}

struct HashWriter<'h>(&'h mut DefaultHasher);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn count(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}
