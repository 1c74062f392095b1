//! The HTTP listener: accepts connections, serves each with hyper, and shuts
//! down gracefully. It exists (instead of `axum::serve`) for the limits a
//! server facing the Internet needs: a client that opens a connection and
//! then sends its request headers, or its body, a byte at a time, or that
//! stops reading its answer, must not hold the connection (and its memory)
//! for ever, and connections are capped.
//!
//! It speaks HTTP/1.1 only. Browsers speak HTTP/2 only over TLS, which a
//! proxy in front terminates; serving HTTP/2 in clear text (h2c) here would
//! add a second protocol, with its own idle and header limits to get right,
//! for clients that do not exist.

use std::{
    future::Future,
    io,
    pin::{Pin, pin},
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use axum::{
    Router,
    extract::{ConnectInfo, Request},
};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    time::{Instant, Sleep},
};
use tower::ServiceExt;

/// Longest wait for a request's headers, counted from the first byte of a
/// request (and for an idle kept-alive connection, from the last response).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a whole request body, however it trickles in.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections open at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 4096;

/// Raises this process's soft limit of open files towards its hard limit,
/// as far as [`MAX_CONNECTIONS`] needs: many systems start processes with a
/// soft limit of 1,024, which would cap connections well below it (accepts
/// then fail, and wait). Says so in the log when the hard limit is lower.
pub fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        // A socket per connection, and some to spare (the database, the
        // log, the mail folder).
        let wanted = libc::rlim_t::try_from(MAX_CONNECTIONS + 1024).unwrap_or(libc::rlim_t::MAX);
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write `limit`.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return;
        }
        if limit.rlim_cur < wanted.min(limit.rlim_max) {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
                return;
            }
        }
        if limit.rlim_cur < wanted {
            tracing::warn!(
                open_files = limit.rlim_cur,
                wanted,
                "the open-file limit is below what the connection cap needs; raise the hard limit (ulimit -Hn)"
            );
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting and waits for the connections in flight to finish. A response
/// not written within `write_timeout` ends its connection.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    write_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = open.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small answers go out at once rather than waiting to fill a packet.
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |mut request: Request<_>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let stream = WriteDeadline::new(stream, write_timeout);
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A connection whose writes must finish in time: from the moment a
/// response starts to go out until everything written is flushed, at most
/// `timeout` may pass, or the connection fails (and hyper closes it). A
/// client that stops reading stalls the writes once the socket's buffers
/// are full; the deadline still passes, because a stalled write waits on
/// the timer too. Progress within a write does not move the deadline: a
/// client reading a byte now and then holds a slot no longer than one that
/// reads nothing. (A body streamed in parts is flushed part by part; each
/// part then has the whole time.)
struct WriteDeadline {
    stream: TcpStream,
    timeout: Duration,
    /// Armed by the first write of a response, disarmed by the flush that
    /// completes it.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl WriteDeadline {
    fn new(stream: TcpStream, timeout: Duration) -> Self {
        Self {
            stream,
            timeout,
            deadline: None,
        }
    }

    /// Arms the deadline if no write is under way.
    fn arm(&mut self) {
        if self.deadline.is_none() {
            self.deadline = Some(Box::pin(tokio::time::sleep_until(
                Instant::now() + self.timeout,
            )));
        }
    }

    /// `Pending` for a write that waits, unless the deadline has passed:
    /// then the write fails. Polling the timer makes it wake this task when
    /// the deadline comes, however long the socket stays full.
    fn waiting<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self
            .deadline
            .as_mut()
            .map(|deadline| deadline.as_mut().poll(cx))
        {
            Some(Poll::Ready(())) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the response was not written within RESPONSE_WRITE_TIMEOUT",
            ))),
            _ => Poll::Pending,
        }
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.arm();
        match Pin::new(&mut self.stream).poll_write(cx, buf) {
            Poll::Pending => self.waiting(cx),
            ready => ready,
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.arm();
        match Pin::new(&mut self.stream).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.waiting(cx),
            ready => ready,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.stream).poll_flush(cx) {
            Poll::Pending => self.waiting(cx),
            Poll::Ready(result) => {
                // Everything written so far is out: the response is done.
                self.deadline = None;
                Poll::Ready(result)
            }
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.stream).poll_shutdown(cx))?;
        Poll::Ready(Ok(()))
    }
}
