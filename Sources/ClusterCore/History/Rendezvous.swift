/// Rendezvous (highest random weight) hashing: every node ranks the members for a channel the same way from
/// nothing but their names, so two nodes with the same membership view agree on a channel's owner (first)
/// and backup (second) without talking, and a join or a leave moves only the channels whose first two change.
///
/// The hash is fixed (FNV-1a 64 over the channel, a 0xFF separator byte that UTF-8 never contains, and the
/// member's name, then the SplitMix64 finalizer to spread FNV's low-entropy high bits); Swift's `Hasher` is
/// seeded per process and would make every node rank differently.
public enum Rendezvous {
    /// The weight of `member` for `channel`; higher ranks first.
    public static func score(channel: String, member: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in channel.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        hash = (hash ^ 0xFF) &* 0x0000_0100_0000_01b3
        for byte in member.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        return hash ^ (hash >> 31)
    }

    /// `members` in rendezvous order for `channel` (ties, which need a 64-bit collision, by name).
    public static func order(channel: String, members: [String]) -> [String] {
        members.map { (name: $0, score: score(channel: channel, member: $0)) }
            .sorted { $0.score != $1.score ? $0.score > $1.score : $0.name < $1.name }
            .map(\.name)
    }
}
