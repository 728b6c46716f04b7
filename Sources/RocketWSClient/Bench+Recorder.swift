import Synchronization

extension Bench {
    /// What the subscribers of one event loop received: a seen-bitmap per subscriber (lost and
    /// duplicate detection) and one latency histogram. Written from that loop, read by the bench task.
    final class Recorder: Sendable {
        struct Snapshot {
            var unique: Int
            var duplicates: Int
            var histogram: LatencyHistogram
            var lastReceiveNanos: Int
        }

        private struct State {
            var seen: [[UInt64]] = []
            var unique = 0
            var duplicates = 0
            var histogram = LatencyHistogram()
            var lastReceiveNanos = 0
        }

        private let messages: Int
        private let state = Mutex(State())

        init(messages: Int) {
            self.messages = messages
        }

        /// Reserves a slot for one more subscriber; returns its index.
        func addSubscriber() -> Int {
            let words = (self.messages + 63) / 64
            return self.state.withLock { state in
                state.seen.append([UInt64](repeating: 0, count: words))
                return state.seen.count - 1
            }
        }

        func record(slot: Int, seq: Int, sentNanos: Int) {
            let now = Bench.unixNanos()
            self.state.withLock { state in
                state.lastReceiveNanos = now
                guard seq >= 0, seq < self.messages else {
                    state.duplicates += 1
                    return
                }
                let bit: UInt64 = 1 << UInt64(seq & 63)
                if state.seen[slot][seq >> 6] & bit != 0 {
                    state.duplicates += 1
                    return
                }
                state.seen[slot][seq >> 6] |= bit
                state.unique += 1
                state.histogram.record(micros: (now - sentNanos) / 1000)
            }
        }

        func snapshot() -> Snapshot {
            self.state.withLock {
                Snapshot(
                    unique: $0.unique,
                    duplicates: $0.duplicates,
                    histogram: $0.histogram,
                    lastReceiveNanos: $0.lastReceiveNanos
                )
            }
        }

        /// Accepted messages that some subscriber of this loop did not receive.
        func missing(accepted: [Bool]) -> Int {
            self.state.withLock { state in
                var missing = 0
                for bits in state.seen {
                    for (seq, ok) in accepted.enumerated() where ok && bits[seq >> 6] & (1 << UInt64(seq & 63)) == 0 {
                        missing += 1
                    }
                }
                return missing
            }
        }
    }
}
