import Testing

@testable import NodeServer

/// Where the first request head ends, fed in any pieces, against the 16 KiB limit.
struct RequestHeadScannerTests {
    static func feed(_ text: String, pieces: Int, limit: Int = 16 * 1024) -> RequestHeadScanner.Verdict {
        var scanner = RequestHeadScanner(limit: limit)
        let bytes = Array(text.utf8)
        let size = max(1, (bytes.count + pieces - 1) / pieces)
        var verdict = RequestHeadScanner.Verdict.incomplete
        for start in stride(from: 0, to: bytes.count, by: size) {
            verdict = scanner.scan(bytes[start..<min(bytes.count, start + size)])
            if verdict != .incomplete { break }
        }
        return verdict
    }

    @Test(arguments: [1, 2, 7, 1000]) func aCompleteHeadIsFoundWhateverThePieces(pieces: Int) {
        let head = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n"
        let verdict = Self.feed(head + "body", pieces: pieces)
        guard case .complete = verdict else {
            Issue.record("verdict \(verdict)")
            return
        }
    }

    @Test func theConsumedCountEndsAtTheEmptyLine() {
        var scanner = RequestHeadScanner()
        #expect(scanner.scan(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST".utf8)) == .complete(consumed: 27))
        #expect(scanner.scan(Array("more".utf8)) == .complete(consumed: 27), "the verdict stays")
    }

    @Test func slowlorisStaysIncomplete() {
        var scanner = RequestHeadScanner()
        #expect(scanner.scan(Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8)) == .incomplete)
        for _ in 0..<100 { #expect(scanner.scan(Array("X-a: b\r\n".utf8)) == .incomplete) }
    }

    @Test func bareLineFeedsEndAHeadAndLeadingEmptyLinesDoNot() {
        #expect(Self.feed("GET / HTTP/1.1\nHost: x\n\n", pieces: 1) == .complete(consumed: 24))
        var scanner = RequestHeadScanner()
        #expect(scanner.scan(Array("\r\n\r\n".utf8)) == .incomplete)
        #expect(scanner.scan(Array("GET / HTTP/1.1\r\n\r\n".utf8)) == .complete(consumed: 18))
    }

    @Test func aHeadOverTheLimitIsTooLargeAndOneJustUnderIsNot() {
        let line = "GET / HTTP/1.1\r\n"
        let fits = line + "X: " + String(repeating: "a", count: 16 * 1024 - line.utf8.count - 7) + "\r\n\r\n"
        #expect(fits.utf8.count == 16 * 1024)
        guard case .complete = Self.feed(fits, pieces: 3) else {
            Issue.record("a 16 KiB head was refused")
            return
        }
        let over = line + "X: " + String(repeating: "a", count: 16 * 1024) + "\r\n\r\n"
        #expect(Self.feed(over, pieces: 5) == .tooLarge)
        // A long request line counts too.
        #expect(Self.feed("GET /" + String(repeating: "a", count: 20_000) + " HTTP/1.1\r\n\r\n", pieces: 2) == .tooLarge)
    }
}
