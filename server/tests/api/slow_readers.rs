//! Clients that ask and then stop reading the answer, against the real
//! binary: each would hold a connection slot for ever, and 4,096 of them
//! (the cap) would shut everyone else out. `RESPONSE_WRITE_TIMEOUT` ends a
//! connection whose answer is not written in time.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use futures::future::join_all;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use crate::{
    binary::{Server, runtime},
    helpers::client,
};

/// The server's connection cap (`serve::MAX_CONNECTIONS`).
const SLOTS: usize = server::serve::MAX_CONNECTIONS;
/// The deadline the test's server runs with: long enough for the test to
/// take every slot before the first one passes.
const DEADLINE: Duration = Duration::from_secs(12);

/// Raises this process's soft limit of open files: the test holds a socket
/// per slot.
fn enough_open_files() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write `limit`.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        let wanted = (SLOTS as libc::rlim_t + 512).min(limit.rlim_max);
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
    assert!(
        limit.rlim_cur as usize > SLOTS + 256,
        "the hard limit of open files ({}) is below what this test needs",
        limit.rlim_max
    );
}

/// Asks for the OpenAPI document eight times in a row on one connection
/// (pipelined), with a small receive window and small segments, reads the
/// start of the first answer, and then reads nothing more. The answer's
/// start says the server holds the connection. (Loopback's segments are
/// 64 KiB, and the kernel sizes a sender's buffer by its segments: with
/// them, half a megabyte of answers could sit in the buffers and the
/// server would be done writing. With 536-byte segments, the server's
/// writes stall after a few kilobytes, as they would to a distant client.)
async fn ask_and_stop_reading(addr: SocketAddr) -> TcpStream {
    use std::os::fd::AsRawFd;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let segment: libc::c_int = 536;
    // SAFETY: sets one option of a socket this function owns, from a
    // value that lives across the call.
    let set = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MAXSEG,
            (&raw const segment).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(set, 0, "TCP_MAXSEG");
    let mut stream = socket.connect(addr).await.unwrap();
    let request = b"GET /api/openapi.json HTTP/1.1\r\nhost: localhost\r\n\r\n".repeat(8);
    stream.write_all(&request).await.unwrap();
    let mut start = [0u8; 12];
    stream.read_exact(&mut start).await.unwrap();
    assert_eq!(&start, b"HTTP/1.1 200");
    stream
}

#[test]
fn clients_that_stop_reading_cannot_hold_every_connection() {
    enough_open_files();
    let dir = tempfile::tempdir().unwrap();
    let deadline = format!("{}s", DEADLINE.as_secs());
    let server = Server::start(dir.path(), &[("RESPONSE_WRITE_TIMEOUT", &deadline)]);
    let addr: SocketAddr = server
        .address
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    runtime().block_on(async {
        let first_held = Instant::now();
        let mut held = Vec::with_capacity(SLOTS);
        for _ in 0..SLOTS / 1024 {
            held.extend(join_all((0..1024).map(|_| ask_and_stop_reading(addr))).await);
        }
        let all_held = first_held.elapsed();
        assert!(
            all_held < DEADLINE,
            "taking every slot took {all_held:?}, longer than the deadline: the test proves nothing"
        );
        // Every slot is held: a normal client waits for the first deadline
        // to end one, and no longer.
        let asked = Instant::now();
        let served = client()
            .get(server.url("/healthz"))
            .timeout(DEADLINE * 3)
            .send()
            .await
            .expect("a normal client is served once a slot frees");
        assert_eq!(served.status(), 200);
        let waited = first_held.elapsed();
        assert!(
            waited <= DEADLINE + Duration::from_secs(1),
            "served {waited:?} after the first slow reader took its slot (asked after {:?})",
            asked - first_held
        );
        drop(held);
    });
    server.stop();
}
