/// Where an SSE stream is in each of its channels (with history on): the epoch and offset of the last message
/// sent, written as the events' `id:` so that the browser's `Last-Event-ID` lets ANY node recover every channel.
///
/// The id is `CHANNEL:EPOCH:OFFSET` per channel, joined by `,`, channels in name order, with channel and epoch
/// percent-encoded (every byte outside `A-Z a-z 0-9 - _ . ~`), so it never holds a line break.
struct StreamPositions: Equatable, Sendable {
    struct Position: Equatable, Sendable {
        var epoch: String
        var offset: Int
    }

    private(set) var byChannel: [String: Position] = [:]

    init() {}

    /// Reads an id written by `eventID`; nil when it is not one.
    init?(eventID: String) {
        guard !eventID.isEmpty else { return nil }
        for entry in eventID.split(separator: ",", omittingEmptySubsequences: false) {
            let fields = entry.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 3, let channel = SSERequest.decode(fields[0]), let epoch = SSERequest.decode(fields[1]),
                let offset = Int(fields[2]), offset >= 0, !channel.isEmpty
            else { return nil }
            byChannel[channel] = Position(epoch: epoch, offset: offset)
        }
    }

    var isEmpty: Bool { byChannel.isEmpty }

    subscript(channel: String) -> Position? {
        get { byChannel[channel] }
        set { byChannel[channel] = newValue }
    }

    /// The `id:` value for the positions so far.
    var eventID: String {
        byChannel.keys.sorted().map { channel in
            let position = byChannel[channel]!
            return "\(Self.encode(channel)):\(Self.encode(position.epoch)):\(position.offset)"
        }.joined(separator: ",")
    }

    private static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += byte < 16 ? "%0\(hex)" : "%\(hex)"
            }
        }
        return out
    }
}
