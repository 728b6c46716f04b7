/// Settings of a `PeerMesh`. Every property has a documented default.
public struct PeerMeshSettings: Sendable {
    /// Host the listener binds to. Default `"0.0.0.0"`.
    public var listenHost: String = "0.0.0.0"
    /// Port the listener binds to; `0` picks a free port (reported by `start()`). Default `59998`.
    public var listenPort: Int = 59998 {
        willSet { precondition((0...65535).contains(newValue), "listenPort must be 0...65535") }
    }
    /// Shared cluster secret. When set, both sides of every connection prove knowledge of it
    /// (HMAC-SHA256 over both nonces and both names) before any application frame is accepted.
    /// Default `nil` (a warning is logged at start).
    public var clusterSecret: String? = nil
    /// TLS files of the encrypted mesh: when set, the peer port speaks HTTP/2 over TLS 1.3 (ALPN `h2`) with
    /// mutual certificate checks, and refuses plaintext peers. Default `nil` (h2c).
    public var tls: PeerTLSFiles? = nil
    /// Bound of each peer's outbound queue in bytes (frame headers included). A `send` that would
    /// exceed it is dropped and counted. Default 64 MiB.
    public var maxQueueBytes: Int = 64 << 20 {
        willSet { precondition(newValue > 0, "maxQueueBytes must be positive") }
    }
    /// Largest application payload accepted from a peer; a bigger one closes the connection. Default 16 MiB.
    public var maxFrameBytes: Int = 16 << 20 {
        willSet { precondition(newValue > 0 && newValue <= Int(UInt32.max), "maxFrameBytes must be 1...2^32-1") }
    }
    /// Interval between HTTP/2 PINGs on each connection (liveness and RTT). Default 5 s.
    public var pingInterval: Duration = .seconds(5)
    /// A connection whose PING stays unanswered this long is closed. Default 15 s.
    public var pingTimeout: Duration = .seconds(15)
    /// First reconnect delay (before jitter). Default 100 ms.
    public var reconnectBackoffMin: Duration = .milliseconds(100)
    /// Largest reconnect delay (before jitter). Default 5 s.
    public var reconnectBackoffMax: Duration = .seconds(5)
    /// Time allowed for a dial plus handshake. Default 5 s.
    public var connectTimeout: Duration = .seconds(5)
    /// HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE we announce (per-stream receive window). Default 16 MiB.
    public var streamWindowBytes: Int32 = 16 << 20
    /// Connection-level receive window, raised explicitly with `nghttp2_session_set_local_window_size`. Default 64 MiB.
    public var connectionWindowBytes: Int32 = 64 << 20
    /// How long `shutdown()` waits for queued frames to drain before closing. Default 2 s.
    public var drainTimeout: Duration = .seconds(2)
    /// Channel write-buffer high water mark: above it the mesh stops producing HTTP/2 output
    /// until the socket drains. Default 4 MiB.
    public var writeBufferHighWaterMark: Int = 4 << 20
    /// A client connection is rotated (GOAWAY + redial) once its next stream id passes this value
    /// (HTTP/2 stream ids run out at 2^31). Default 2^30.
    public var rotateAfterStreamID: Int32 = 1 << 30

    public init() {}
}
