/// Finds where the first HTTP request head on a connection ends (the empty line after the headers), counting
/// its bytes against a limit. A pure state machine fed the connection's bytes in whatever pieces they come.
///
/// Lines may end in CRLF or a bare LF (as the HTTP parser accepts); empty lines before the request line are
/// skipped (RFC 9112 2.2) but counted.
struct RequestHeadScanner {
    /// What the bytes seen so far amount to.
    enum Verdict: Equatable {
        /// The head goes on.
        case incomplete
        /// The head ended; `consumed` bytes of the last piece belong to it.
        case complete(consumed: Int)
        /// The head passed `limit` bytes without ending.
        case tooLarge
    }

    /// The most bytes a head may take, its final empty line included (16 KiB by default).
    let limit: Int
    private(set) var headBytes = 0
    /// Bytes in the current line, line ending excluded.
    private var lineLength = 0
    /// The request line has begun.
    private var started = false
    private var finished: Verdict = .incomplete

    init(limit: Int = 16 * 1024) {
        self.limit = limit
    }

    /// Feeds the next bytes of the connection. Once the verdict is `complete` or `tooLarge` it stays so
    /// (later bytes are not looked at).
    mutating func scan<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Verdict {
        guard finished == .incomplete else { return finished }
        var consumed = 0
        for byte in bytes {
            consumed += 1
            headBytes += 1
            switch byte {
            case UInt8(ascii: "\n"):
                if lineLength == 0, started {
                    finished = .complete(consumed: consumed)
                    return finished
                }
                lineLength = 0
            case UInt8(ascii: "\r"):
                break
            default:
                started = true
                lineLength += 1
            }
            if headBytes >= limit {
                finished = .tooLarge
                return finished
            }
        }
        return .incomplete
    }
}
