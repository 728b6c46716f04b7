import NIOHTTP1

/// A `GET /sse?channel=A&channel=B` request: the public channels to stream, and the `Last-Event-ID` the browser
/// sent back after a reconnect (nil on a first connection).
struct SSERequest: Sendable, Equatable {
    var channels: [String]
    var lastEventID: String?

    /// Why a request cannot be streamed: the text of its 400 answer.
    struct Invalid: Error, Equatable {
        let reason: String
    }

    static let path = "/sse"

    /// Reads the channels from the query (percent-decoded, `+` as space, repeats kept once, in order).
    init(_ head: HTTPRequestHead) throws(Invalid) {
        let parts = head.uri.split(separator: "?", maxSplits: 1)
        var channels: [String] = []
        for pair in (parts.count > 1 ? parts[1] : "").split(separator: "&") {
            let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard keyValue.count == 2, Self.decode(keyValue[0]) == "channel" else { continue }
            guard let channel = Self.decode(keyValue[1]) else { throw Invalid(reason: "a channel is not valid percent-encoded UTF-8") }
            guard !channel.isEmpty, channel.utf8.count <= 255 else { throw Invalid(reason: "a channel name must be 1 to 255 bytes") }
            guard !channel.hasPrefix(PrivateChannelToken.prefix) else {
                throw Invalid(reason: "channel '\(channel)' is private: server-sent events stream public channels only")
            }
            if !channels.contains(channel) { channels.append(channel) }
        }
        guard !channels.isEmpty else { throw Invalid(reason: "name at least one channel: /sse?channel=NAME") }
        self.channels = channels
        self.lastEventID = head.headers.first(name: "last-event-id")
    }

    /// Percent-decoding of a query component; nil when it is not UTF-8 afterwards.
    static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard let high = utf8.popFirst().flatMap(hexValue), let low = utf8.popFirst().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
