//! SHA-256 in a pipeline thread: the caller reads (and writes) while another core hashes the previous chunk.
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use sha2::Digest;

use crate::types::Sha256;

const CHUNK: usize = 1 << 20;
/// Chunks in flight; bounds memory at about `IN_FLIGHT` MiB whatever the file size.
const IN_FLIGHT: usize = 4;

enum Job {
    Chunk(Vec<u8>),
    Finish,
}

enum Back {
    Buffer(Vec<u8>),
    Digest(Sha256, u64),
}

/// A hasher on its own thread. Feed bytes with [`HashPipe::feed`], get the digest with [`HashPipe::finish`];
/// reusable for the next file.
pub(crate) struct HashPipe {
    work: Option<SyncSender<Job>>,
    back: Receiver<Back>,
    current: Vec<u8>,
    spare: Vec<Vec<u8>>,
    outstanding: usize,
    thread: Option<JoinHandle<()>>,
}

impl HashPipe {
    pub(crate) fn new() -> Self {
        let (work_tx, work_rx) = mpsc::sync_channel::<Job>(IN_FLIGHT);
        let (back_tx, back_rx) = mpsc::channel::<Back>();
        let thread = std::thread::spawn(move || {
            let mut hasher = sha2::Sha256::new();
            let mut count = 0u64;
            for job in work_rx {
                let sent = match job {
                    Job::Chunk(buf) => {
                        hasher.update(&buf);
                        count += buf.len() as u64;
                        back_tx.send(Back::Buffer(buf))
                    }
                    Job::Finish => {
                        let digest = Sha256::from_bytes(&hasher.finalize_reset());
                        back_tx.send(Back::Digest(digest, std::mem::take(&mut count)))
                    }
                };
                if sent.is_err() {
                    return;
                }
            }
        });
        HashPipe {
            work: Some(work_tx),
            back: back_rx,
            current: Vec::with_capacity(CHUNK),
            spare: Vec::new(),
            outstanding: 0,
            thread: Some(thread),
        }
    }

    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = CHUNK - self.current.len();
            let take = room.min(data.len());
            self.current.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.current.len() == CHUNK {
                self.send_current();
            }
        }
    }

    /// Hash a whole buffer without copying it; returns an empty buffer (with capacity) for the next read.
    /// Blocks while `IN_FLIGHT` buffers are waiting for the hasher.
    pub(crate) fn feed_owned(&mut self, buf: Vec<u8>) -> Vec<u8> {
        if buf.is_empty() {
            return buf;
        }
        if !self.current.is_empty() {
            self.send_current();
        }
        let spare = std::mem::replace(&mut self.current, buf);
        self.send_current();
        // `send_current` left a recycled buffer (or a new one) in `current`; hand back the spare instead.
        let next = std::mem::replace(&mut self.current, spare);
        let mut next = next;
        next.clear();
        next
    }

    fn send_current(&mut self) {
        // Take back finished buffers; wait for one when all are in flight.
        while let Ok(Back::Buffer(buf)) = self.back.try_recv() {
            self.recycle(buf);
        }
        if self.outstanding >= IN_FLIGHT {
            if let Ok(Back::Buffer(buf)) = self.back.recv() {
                self.recycle(buf);
            }
        }
        let next = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.current, next);
        self.outstanding += 1;
        self.sender().send(Job::Chunk(full)).expect("hasher alive");
    }

    fn recycle(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        self.outstanding -= 1;
        self.spare.push(buf);
    }

    fn sender(&self) -> &SyncSender<Job> {
        self.work.as_ref().expect("hasher running")
    }

    /// Digest and length of everything fed since the last call.
    pub(crate) fn finish(&mut self) -> (Sha256, u64) {
        if !self.current.is_empty() {
            self.send_current();
        }
        self.sender().send(Job::Finish).expect("hasher alive");
        loop {
            match self.back.recv().expect("hasher alive") {
                Back::Buffer(buf) => self.recycle(buf),
                Back::Digest(sha, len) => return (sha, len),
            }
        }
    }
}

impl Drop for HashPipe {
    fn drop(&mut self) {
        self.work.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_one_shot_digest() {
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i * 31 % 251) as u8).collect();
        let mut pipe = HashPipe::new();
        for piece in data.chunks(70_000) {
            pipe.feed(piece);
        }
        assert_eq!(pipe.finish(), (Sha256::digest(&data), data.len() as u64));
        for piece in data.chunks(CHUNK / 3 + 5) {
            let mut buf = pipe.feed_owned(piece.to_vec());
            buf.extend_from_slice(b"x");
            assert_eq!(buf, b"x", "returned buffers are empty");
        }
        assert_eq!(pipe.finish(), (Sha256::digest(&data), data.len() as u64));
        pipe.feed(b"a");
        pipe.feed_owned(b"b".to_vec());
        pipe.feed(b"c");
        assert_eq!(pipe.finish(), (Sha256::digest(b"abc"), 3));
        pipe.feed(b"abc");
        assert_eq!(pipe.finish(), (Sha256::digest(b"abc"), 3));
        assert_eq!(pipe.finish(), (Sha256::digest(b""), 0));
    }
}
