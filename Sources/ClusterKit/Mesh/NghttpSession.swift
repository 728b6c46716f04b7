import CNghttp2
import NIOCore

/// What `NghttpSession` reports to its owner. Every call happens synchronously inside
/// `receive(_:)` or `produceOutput(into:)`, on the owner's event loop.
protocol NghttpSessionDelegate: AnyObject {
    /// A complete header block (request, response or trailers) arrived on a stream.
    func session(_ session: NghttpSession, didReceiveHeaders headers: [(name: String, value: String)], streamID: Int32, endStream: Bool)
    /// A chunk of a DATA frame's payload arrived (the bytes are only valid during the call).
    func session(_ session: NghttpSession, didReceiveData chunk: UnsafeRawBufferPointer, streamID: Int32)
    /// The peer ended its side of a stream with a DATA frame carrying END_STREAM.
    func session(_ session: NghttpSession, didReceiveEndStream streamID: Int32)
    /// A stream closed (either side, any reason). Not called by `nghttp2_session_del`.
    func session(_ session: NghttpSession, streamDidClose streamID: Int32, errorCode: UInt32)
    /// A PING we sent was acknowledged.
    func session(_ session: NghttpSession, didReceivePingAck opaque: UInt64)
    /// The peer sent GOAWAY.
    func session(_ session: NghttpSession, didReceiveGoAway errorCode: UInt32)
    /// The peer's SETTINGS arrived (the first time and every later time).
    func sessionDidReceiveSettings(_ session: NghttpSession)
    /// nghttp2 wants body bytes for `streamID`: copy up to `buffer.count` bytes and say how many,
    /// or answer `.noCopy(n)` and hand the bytes over later in `sendData`.
    func session(_ session: NghttpSession, readBodyFor streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> NghttpSession.BodyRead
    /// A `.noCopy` DATA frame is due: emit `header` (9 bytes) then exactly `length` body bytes of `streamID`.
    func session(_ session: NghttpSession, sendDataFrame header: UnsafeRawBufferPointer, length: Int, streamID: Int32)
    /// Serialized frames to write to the socket, in order (valid only during the call).
    func session(_ session: NghttpSession, output bytes: UnsafeRawBufferPointer)
    /// Largest DATA payload to send on `streamID` (the library clamps it to the windows and the peer's max frame size).
    func session(_ session: NghttpSession, maxDataLengthFor streamID: Int32) -> Int
}

/// Owns one `nghttp2_session` (client or server role). Not thread-safe: every method must be
/// called on the owning channel's event loop, and `user_data` points at this object without a
/// retain (valid because the session dies in our `deinit`).
final class NghttpSession {
    enum Role { case client, server }

    /// The answer of a body read.
    enum BodyRead {
        /// `count` bytes were copied; `endStream` ends our side of the stream.
        case bytes(Int, endStream: Bool)
        /// `count` bytes are ready and will be emitted by `sendDataFrame` without copying through nghttp2.
        case noCopy(Int)
        /// Nothing to send now; call `resumeBody(streamID:)` when there is.
        case deferred
    }

    struct Failure: Error, CustomStringConvertible {
        let code: Int
        let operation: String
        var description: String { "nghttp2 \(operation) failed: \(String(cString: nghttp2_strerror(Int32(code))))" }
    }

    let role: Role
    unowned let delegate: any NghttpSessionDelegate
    private var session: OpaquePointer?
    /// Header fields of header blocks being received, by stream id.
    private var pendingHeaders: [Int32: [(name: String, value: String)]] = [:]
    /// Bytes produced by the current `produceOutput` call.
    private var produced = 0

    init(role: Role, delegate: any NghttpSessionDelegate) {
        self.role = role
        self.delegate = delegate
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        NghttpSession.install(callbacks)
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        // Open one stream until the peer's SETTINGS arrive (we only ever open one anyway).
        nghttp2_option_set_peer_max_concurrent_streams(option, 100)
        let userData = Unmanaged.passUnretained(self).toOpaque()
        var s: OpaquePointer?
        switch role {
        case .client: nghttp2_session_client_new2(&s, callbacks, userData, option)
        case .server: nghttp2_session_server_new2(&s, callbacks, userData, option)
        }
        self.session = s
    }

    deinit {
        // Note: nghttp2_session_del does not call on_stream_close; the owner frees its per-stream state itself.
        nghttp2_session_del(session)
    }

    // MARK: Submitting

    func submitSettings(initialWindow: Int32, maxFrameSize: UInt32 = 1 << 20, maxConcurrentStreams: UInt32 = 100) throws {
        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue), value: maxFrameSize),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: UInt32(initialWindow)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: maxConcurrentStreams),
        ]
        try check(nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count), "submit_settings")
    }

    /// Raises the connection-level receive window (SETTINGS only changes stream windows).
    func setConnectionWindow(_ size: Int32) throws {
        try check(nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, size), "set_local_window_size")
    }

    /// Opens a request stream whose body is produced through the delegate's `readBodyFor`.
    func submitRequest(headers: [(String, String)], hasBody: Bool) throws -> Int32 {
        let id = NghttpSession.withNV(headers) { nva, count in
            if hasBody {
                var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: NghttpSession.readCallback)
                return nghttp2_submit_request(session, nil, nva, count, &provider, nil)
            }
            return nghttp2_submit_request(session, nil, nva, count, nil, nil)
        }
        try check(Int(id), "submit_request")
        return id
    }

    func submitResponse(streamID: Int32, headers: [(String, String)], hasBody: Bool) throws {
        let rv = NghttpSession.withNV(headers) { nva, count in
            if hasBody {
                var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: NghttpSession.readCallback)
                return nghttp2_submit_response(session, streamID, nva, count, &provider)
            }
            return nghttp2_submit_response(session, streamID, nva, count, nil)
        }
        try check(Int(rv), "submit_response")
    }

    /// Tells nghttp2 that a deferred body has bytes again.
    func resumeBody(streamID: Int32) {
        _ = nghttp2_session_resume_data(session, streamID)
    }

    func submitPing(_ opaque: UInt64) { _ = CNghttp2_submitPing(session, opaque) }

    func submitGoAway(errorCode: UInt32 = 0) {
        let last = nghttp2_session_get_last_proc_stream_id(session)
        _ = nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), last, errorCode, nil, 0)
    }

    func resetStream(_ streamID: Int32, errorCode: UInt32) {
        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode)
    }

    var nextStreamID: Int32 { Int32(bitPattern: nghttp2_session_get_next_stream_id(session)) }
    var wantsWrite: Bool { nghttp2_session_want_write(session) != 0 }
    var wantsRead: Bool { nghttp2_session_want_read(session) != 0 }

    // MARK: Driving

    /// Feeds received bytes. Throws on a protocol error (the caller closes the connection).
    func receive(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let rv = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        try check(rv, "mem_recv")
    }

    /// Serializes pending frames (through the delegate's `output` and `sendDataFrame`) until
    /// nghttp2 has nothing more or about `limit` bytes were produced. Returns the bytes produced.
    @discardableResult
    func produceOutput(limit: Int) throws -> Int {
        produced = 0
        while produced < limit {
            var data: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &data)
            try check(n, "mem_send")
            guard n > 0, let data else { break }
            produced += n
            delegate.session(self, output: UnsafeRawBufferPointer(start: data, count: n))
        }
        return produced
    }

    private func check(_ rv: Int, _ operation: String) throws {
        if rv < 0 { throw Failure(code: rv, operation: operation) }
    }

    private func check(_ rv: Int32, _ operation: String) throws { try check(Int(rv), operation) }

    // MARK: Callbacks (C)

    private static func from(_ userData: UnsafeMutableRawPointer?) -> NghttpSession {
        Unmanaged<NghttpSession>.fromOpaque(userData!).takeUnretainedValue()
    }

    private static let readCallback: nghttp2_data_source_read_callback = { _, streamID, buf, length, flags, _, userData in
        let me = NghttpSession.from(userData)
        switch me.delegate.session(me, readBodyFor: streamID, into: UnsafeMutableRawBufferPointer(start: buf, count: length)) {
        case .deferred:
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        case .bytes(let count, let endStream):
            if endStream { flags!.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
            return count
        case .noCopy(let count):
            flags!.pointee |= NGHTTP2_DATA_FLAG_NO_COPY.rawValue
            return count
        }
    }

    private static func install(_ callbacks: OpaquePointer?) {
        nghttp2_session_callbacks_set_send_data_callback(callbacks) { _, frame, header, length, _, userData in
            let me = NghttpSession.from(userData)
            me.produced += 9 + length
            me.delegate.session(
                me, sendDataFrame: UnsafeRawBufferPointer(start: header, count: 9), length: length,
                streamID: frame!.pointee.hd.stream_id)
            return 0
        }
        nghttp2_session_callbacks_set_data_source_read_length_callback(callbacks) {
            _, _, streamID, sessionWindow, streamWindow, remoteMaxFrame, userData in
            let me = NghttpSession.from(userData)
            let wanted = me.delegate.session(me, maxDataLengthFor: streamID)
            return max(1, min(wanted, Int(sessionWindow), Int(streamWindow), Int(remoteMaxFrame)))
        }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, userData in
            let me = NghttpSession.from(userData)
            me.pendingHeaders[frame!.pointee.hd.stream_id] = []
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            let me = NghttpSession.from(userData)
            let id = frame!.pointee.hd.stream_id
            let n = String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self)
            let v = String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self)
            me.pendingHeaders[id, default: []].append((n, v))
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            let me = NghttpSession.from(userData)
            let hd = frame!.pointee.hd
            let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            switch Int(hd.type) {
            case Int(NGHTTP2_HEADERS.rawValue):
                let headers = me.pendingHeaders.removeValue(forKey: hd.stream_id) ?? []
                me.delegate.session(me, didReceiveHeaders: headers, streamID: hd.stream_id, endStream: endStream)
            case Int(NGHTTP2_DATA.rawValue):
                if endStream { me.delegate.session(me, didReceiveEndStream: hd.stream_id) }
            case Int(NGHTTP2_PING.rawValue):
                if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 {
                    me.delegate.session(me, didReceivePingAck: CNghttp2_pingOpaque(frame))
                }
            case Int(NGHTTP2_SETTINGS.rawValue):
                if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 { me.delegate.sessionDidReceiveSettings(me) }
            case Int(NGHTTP2_GOAWAY.rawValue):
                me.delegate.session(me, didReceiveGoAway: CNghttp2_goawayErrorCode(frame))
            default:
                break
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            let me = NghttpSession.from(userData)
            me.delegate.session(me, didReceiveData: UnsafeRawBufferPointer(start: data, count: length), streamID: streamID)
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, userData in
            let me = NghttpSession.from(userData)
            me.pendingHeaders.removeValue(forKey: streamID)
            me.delegate.session(me, streamDidClose: streamID, errorCode: errorCode)
            return 0
        }
    }

    /// Lays header names and values out in one array and calls `body` with `nghttp2_nv`s pointing into it.
    private static func withNV<R>(_ headers: [(String, String)], _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        var bytes: [UInt8] = []
        var offsets: [(Int, Int, Int, Int)] = []
        for (name, value) in headers {
            let n = bytes.count
            bytes.append(contentsOf: name.utf8)
            let v = bytes.count
            bytes.append(contentsOf: value.utf8)
            offsets.append((n, v - n, v, bytes.count - v))
        }
        bytes.append(0)
        return bytes.withUnsafeMutableBufferPointer { raw in
            let base = raw.baseAddress!
            let nva = offsets.map { o in
                nghttp2_nv(
                    name: base + o.0, value: base + o.2, namelen: o.1, valuelen: o.3,
                    flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
            }
            return nva.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }
}

@available(*, unavailable) extension NghttpSession: Sendable {}
