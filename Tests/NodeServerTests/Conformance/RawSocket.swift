import NIOCore
import NIOPosix
import Synchronization

/// A plain TCP connection for conformance tests: it writes exactly the bytes it is given (bad handshakes,
/// unmasked frames, RSV bits, reserved opcodes, split headers) and parses what the server answers (an HTTP
/// response head, then unmasked server frames). Reads poll a locked buffer against a deadline, so every
/// wait is bounded.
final class RawSocket: Sendable {
    /// The RFC 6455 section 1.3 example key and its accept value.
    static let sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="
    static let sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    private let channel: any Channel
    private let inbox: Inbox

    private init(channel: any Channel, inbox: Inbox) {
        self.channel = channel
        self.inbox = inbox
    }

    /// A TCP connection to 127.0.0.1:`port`, nothing sent yet.
    static func connect(port: Int) async throws -> RawSocket {
        let inbox = Inbox()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(inbox: inbox)) }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return RawSocket(channel: channel, inbox: inbox)
    }

    /// A connection upgraded with a correct handshake (101 checked, with the right accept value).
    static func open(port: Int) async throws -> RawSocket {
        let socket = try await connect(port: port)
        socket.send(Array(handshake(port: port).utf8))
        guard let answer = await socket.readHTTPResponse() else { throw RawSocketError.noResponse }
        guard answer.status == 101, answer.headers["sec-websocket-accept"] == sampleAccept else {
            throw RawSocketError.badHandshake(answer.status)
        }
        return socket
    }

    /// A client upgrade request; `replacing` swaps header lines (a nil value drops the header).
    static func handshake(
        port: Int,
        method: String = "GET",
        path: String = "/",
        version: String = "1.1",
        replacing: [String: String?] = [:]
    ) -> String {
        var headers: [(String, String)] = [
            ("Host", "127.0.0.1:\(port)"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", sampleKey),
            ("Sec-WebSocket-Version", "13"),
        ]
        for (name, value) in replacing {
            if let index = headers.firstIndex(where: { $0.0.lowercased() == name.lowercased() }) {
                if let value { headers[index].1 = value } else { headers.remove(at: index) }
            } else if let value {
                headers.append((name, value))
            }
        }
        return "\(method) \(path) HTTP/\(version)\r\n" + headers.map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n"
    }

    // MARK: Writing

    /// Writes and flushes `bytes` as they are; failures (the server already closed) are ignored, the
    /// assertions on what comes back decide.
    func send(_ bytes: [UInt8]) {
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
    }

    /// Writes `bytes` in pieces of `chunk` bytes, each flushed on its own (Autobahn's "chopped" cases).
    func sendChopped(_ bytes: [UInt8], chunk: Int = 1) {
        var start = 0
        while start < bytes.count {
            let end = min(start + chunk, bytes.count)
            send(Array(bytes[start..<end]))
            start = end
        }
    }

    /// Writes one frame built by ``frame(_:_:fin:rsv:mask:)``.
    func sendFrame(_ opcode: UInt8, _ payload: [UInt8] = [], fin: Bool = true, rsv: UInt8 = 0, mask: Bool = true) {
        send(Self.frame(opcode, payload, fin: fin, rsv: rsv, mask: mask))
    }

    /// The bytes of one client frame: `rsv` is the three RSV bits (0...7, RSV1 is 4), masked with a random
    /// key unless `mask` is false.
    static func frame(_ opcode: UInt8, _ payload: [UInt8] = [], fin: Bool = true, rsv: UInt8 = 0, mask: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0x0F)]
        let maskBit: UInt8 = mask ? 0x80 : 0
        if payload.count < 126 {
            bytes.append(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            bytes.append(maskBit | 126)
            bytes += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            bytes.append(maskBit | 127)
            bytes += (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(payload.count) >> (8 * $0)) }
        }
        guard mask else { return bytes + payload }
        let key = (0..<4).map { _ in UInt8.random(in: 0...255) }
        bytes += key
        bytes += payload.enumerated().map { $0.element ^ key[$0.offset & 3] }
        return bytes
    }

    /// A close frame body: the code, then the reason bytes.
    static func closeBody(_ code: UInt16, _ reason: [UInt8] = []) -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF)] + reason
    }

    // MARK: Reading

    /// One frame from the server.
    struct Frame: Equatable, CustomStringConvertible {
        var fin: Bool
        var rsv: UInt8
        var opcode: UInt8
        var masked: Bool
        var payload: [UInt8]

        /// The code of a close frame (1005, "no status", for an empty body).
        var closeCode: Int? {
            guard opcode == 0x8 else { return nil }
            return payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : 1005
        }

        var text: String { String(decoding: payload, as: UTF8.self) }

        var description: String {
            switch opcode {
            case 0x8: "close(\(closeCode ?? 0), \(String(decoding: payload.dropFirst(2), as: UTF8.self)))"
            case 0x1: "text(\(text.prefix(80)))"
            default: "frame(opcode \(opcode), \(payload.count) bytes)"
            }
        }
    }

    /// An HTTP response head (header names lowercased) and its body (by content-length).
    struct HTTPResponse {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    /// The server's HTTP response, or nil when none arrives before `timeout`.
    func readHTTPResponse(timeout: Duration = .seconds(10)) async -> HTTPResponse? {
        await read(timeout: timeout) { bytes, closed in
            guard let end = Self.headEnd(bytes) else { return nil }
            let lines = String(decoding: bytes[..<end], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
            let statusParts = lines[0].split(separator: " ")
            guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" })
            }
            let length = status == 101 ? 0 : Int(headers["content-length"] ?? "") ?? -1
            let bodyStart = end + 4
            if length >= 0 {
                guard bytes.count - bodyStart >= length else { return nil }
                let body = String(decoding: bytes[bodyStart..<(bodyStart + length)], as: UTF8.self)
                return (HTTPResponse(status: status, headers: headers, body: body), bodyStart + length)
            }
            // No length: the body runs to the end of the connection.
            guard closed else { return nil }
            let body = String(decoding: bytes[bodyStart...], as: UTF8.self)
            return (HTTPResponse(status: status, headers: headers, body: body), bytes.count)
        }
    }

    /// The next server frame, or nil when none arrives before `timeout` (or the connection ended).
    func nextFrame(timeout: Duration = .seconds(10)) async -> Frame? {
        await read(timeout: timeout) { bytes, _ in Self.parseFrame(bytes) }
    }

    /// Frames until (and including) a close frame; nil when the connection ends or `timeout` passes first.
    func framesUntilClose(timeout: Duration = .seconds(10)) async -> (before: [Frame], close: Frame)? {
        let deadline = ContinuousClock.now + timeout
        var before: [Frame] = []
        while let frame = await nextFrame(timeout: deadline - ContinuousClock.now) {
            if frame.opcode == 0x8 { return (before, frame) }
            before.append(frame)
        }
        return nil
    }

    /// Waits until the server ends the TCP connection; true when it did before `timeout`.
    func waitForEOF(timeout: Duration = .seconds(10)) async -> Bool {
        await read(timeout: timeout) { _, closed in closed ? ((), 0) : nil } != nil
    }

    /// Everything received up to and including the first `marker` (consumed), or nil when it does not come
    /// before `timeout` (a streamed body: server-sent events).
    func text(through marker: String, timeout: Duration = .seconds(10)) async -> String? {
        let needle = Array(marker.utf8)
        return await read(timeout: timeout) { bytes, _ in
            guard bytes.count >= needle.count else { return nil }
            for start in 0...(bytes.count - needle.count) where bytes[start..<(start + needle.count)].elementsEqual(needle) {
                let end = start + needle.count
                return (String(decoding: bytes[..<end], as: UTF8.self), end)
            }
            return nil
        }
    }

    /// Bytes received and not parsed yet.
    var unreadBytes: Int { inbox.state.withLock { $0.bytes.count } }

    func close() async {
        try? await channel.close()
    }

    /// Polls the received bytes with `parse` (which returns a value and how many bytes it used) until it
    /// succeeds, the connection ended with nothing parseable, or `timeout` passes.
    private func read<T>(timeout: Duration, _ parse: ([UInt8], Bool) -> (T, Int)?) async -> T? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (result, closed): (T?, Bool) = inbox.state.withLock { state in
                guard let (value, used) = parse(state.bytes, state.closed) else { return (nil, state.closed) }
                state.bytes.removeFirst(used)
                return (value, state.closed)
            }
            if let result { return result }
            if closed || ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }

    /// The first frame in `bytes` and its size, or nil when `bytes` holds less than a frame.
    static func parseFrame(_ bytes: [UInt8]) -> (Frame, Int)? {
        guard bytes.count >= 2 else { return nil }
        var offset = 2
        var length = Int(bytes[1] & 0x7F)
        if length == 126 {
            guard bytes.count >= 4 else { return nil }
            length = Int(bytes[2]) << 8 | Int(bytes[3])
            offset = 4
        } else if length == 127 {
            guard bytes.count >= 10 else { return nil }
            length = bytes[2..<10].reduce(0) { $0 << 8 | Int($1) }
            offset = 10
        }
        let masked = bytes[1] & 0x80 != 0
        var key: [UInt8] = []
        if masked {
            guard bytes.count >= offset + 4 else { return nil }
            key = Array(bytes[offset..<(offset + 4)])
            offset += 4
        }
        guard bytes.count >= offset + length else { return nil }
        var payload = Array(bytes[offset..<(offset + length)])
        if masked { payload = payload.enumerated().map { $0.element ^ key[$0.offset & 3] } }
        let frame = Frame(fin: bytes[0] & 0x80 != 0, rsv: (bytes[0] >> 4) & 7, opcode: bytes[0] & 0x0F, masked: masked, payload: payload)
        return (frame, offset + length)
    }

    // MARK: Plumbing

    private final class Inbox: Sendable {
        let state = Mutex<(bytes: [UInt8], closed: Bool)>(([], false))
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let inbox: Inbox

        init(inbox: Inbox) {
            self.inbox = inbox
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            inbox.state.withLock { $0.bytes += buffer.readableBytesView }
        }

        func channelInactive(context: ChannelHandlerContext) {
            inbox.state.withLock { $0.closed = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            // A reset by the server ends the connection like a FIN does for these tests.
            context.close(promise: nil)
        }
    }
}

enum RawSocketError: Error {
    case noResponse
    case badHandshake(Int)
}
