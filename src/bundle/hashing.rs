//! SHA-256 in a pipeline thread: the caller reads (and writes) while another core hashes the previous chunk.
//! [`HashPipe`] hashes bytes handed to it; [`RegionHasher`] reads back stretches of files that were just
//! written (from the page cache) and hashes those.
use std::collections::VecDeque;
use std::io;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use super::volumes::{read_at, Region};

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

    /// Take back finished buffers; wait for one when all are in flight.
    fn make_room(&mut self) {
        while let Ok(Back::Buffer(buf)) = self.back.try_recv() {
            self.recycle(buf);
        }
        if self.outstanding >= IN_FLIGHT {
            if let Ok(Back::Buffer(buf)) = self.back.recv() {
                self.recycle(buf);
            }
        }
    }

    fn send_current(&mut self) {
        self.make_room();
        let next = match self.spare.pop() {
            Some(mut buf) => {
                buf.clear();
                buf
            }
            None => Vec::with_capacity(CHUNK),
        };
        let full = std::mem::replace(&mut self.current, next);
        self.outstanding += 1;
        self.sender().send(Job::Chunk(full)).expect("hasher alive");
    }

    fn recycle(&mut self, buf: Vec<u8>) {
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

/// Regions queued before the copy waits for the hasher: the copy runs ahead by up to this many chunks.
const REGIONS_AHEAD: usize = 1024;

enum RegionJob {
    Region(Region),
    /// The end of one item: send back the digest and length of the regions since the last end.
    End,
}

/// Hashes items, each a sequence of [`Region`]s, on its own thread with positional reads; the digests
/// come back in the order the items ended.
pub(crate) struct RegionHasher<T> {
    work: Option<SyncSender<RegionJob>>,
    results: Receiver<io::Result<(Sha256, u64)>>,
    /// Items ended and not yet answered.
    pending: VecDeque<T>,
    thread: Option<JoinHandle<()>>,
}

impl<T> RegionHasher<T> {
    pub(crate) fn new() -> Self {
        let (work_tx, work_rx) = mpsc::sync_channel::<RegionJob>(REGIONS_AHEAD);
        let (result_tx, result_rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut hasher = sha2::Sha256::new();
            let mut count = 0u64;
            let mut failed: Option<io::Error> = None;
            let mut buf = vec![0u8; CHUNK];
            for job in work_rx {
                match job {
                    RegionJob::Region(r) if failed.is_none() => {
                        if let Err(e) = hash_region(&r, &mut buf, &mut hasher) {
                            failed = Some(e);
                        }
                        count += r.len;
                    }
                    RegionJob::Region(_) => {}
                    RegionJob::End => {
                        let digest = Sha256::from_bytes(&hasher.finalize_reset());
                        let result = match failed.take() {
                            Some(e) => Err(e),
                            None => Ok((digest, std::mem::take(&mut count))),
                        };
                        count = 0;
                        if result_tx.send(result).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        RegionHasher {
            work: Some(work_tx),
            results: result_rx,
            pending: VecDeque::new(),
            thread: Some(thread),
        }
    }

    /// Queue a region of the current item (blocks while `REGIONS_AHEAD` regions wait).
    pub(crate) fn region(&mut self, region: Region) {
        self.send(RegionJob::Region(region));
    }

    /// End the current item; its digest comes back with `item` from [`RegionHasher::ready`] or
    /// [`RegionHasher::wait`].
    pub(crate) fn end(&mut self, item: T) {
        self.pending.push_back(item);
        self.send(RegionJob::End);
    }

    fn send(&self, job: RegionJob) {
        self.work
            .as_ref()
            .expect("hasher running")
            .send(job)
            .expect("hasher alive");
    }

    /// The next finished item, if it is finished.
    pub(crate) fn ready(&mut self) -> Option<(T, io::Result<(Sha256, u64)>)> {
        let result = self.results.try_recv().ok()?;
        Some((
            self.pending.pop_front().expect("an item per result"),
            result,
        ))
    }

    /// No item is waiting for its digest.
    pub(crate) fn wait_is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The next item that ended, waiting for its digest; `None` when none is pending.
    pub(crate) fn wait(&mut self) -> Option<(T, io::Result<(Sha256, u64)>)> {
        let item = self.pending.pop_front()?;
        let result = self.results.recv().expect("hasher alive");
        Some((item, result))
    }
}

impl<T> Drop for RegionHasher<T> {
    fn drop(&mut self) {
        self.work.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn hash_region(r: &Region, buf: &mut [u8], hasher: &mut sha2::Sha256) -> io::Result<()> {
    let mut done = 0u64;
    while done < r.len {
        let want = (r.len - done).min(buf.len() as u64) as usize;
        let n = match read_at(&r.file, &mut buf[..want], r.offset + done) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        done += n as u64;
    }
    Ok(())
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
        pipe.feed(b"abc");
        assert_eq!(pipe.finish(), (Sha256::digest(b"abc"), 3));
        assert_eq!(pipe.finish(), (Sha256::digest(b""), 0));
    }
}
