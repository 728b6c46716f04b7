import Testing

@testable import ClusterCore

/// What every history simulation must show, whatever the churn, loss or partitions.
enum HistoryInvariants {
    /// Fencing: no (epoch, offset) was ever handed out for two different messages, by one node or two.
    static func checkNoFork(_ sim: ClusterSimulation) {
        var given: [String: Int] = [:]
        for (giver, delivery) in sim.handedOut {
            let position = "\(delivery.channel)/\(delivery.epoch)/\(delivery.offset)"
            if let emit = given[position] {
                #expect(emit == delivery.emit, "\(position) given to emits \(emit) and \(delivery.emit) (last by n\(giver))")
            } else {
                given[position] = delivery.emit
            }
        }
    }

    /// Each node's subscribers saw each channel's entries of one epoch once each, in offset order.
    static func checkSubscriberOrder(_ sim: ClusterSimulation) {
        for (node, log) in sim.historyDeliveries.enumerated() {
            var last: [String: UInt64] = [:]
            for delivery in log {
                let stream = "\(delivery.channel)/\(delivery.epoch)"
                #expect(delivery.offset > last[stream] ?? 0, "n\(node) got \(stream) offset \(delivery.offset) after \(last[stream] ?? 0)")
                last[stream] = delivery.offset
            }
        }
    }

    /// Every emit was answered exactly once, within the wait limit and the forward timeout.
    static func checkAnswered(_ sim: ClusterSimulation, bound: Duration) {
        for (number, emit) in sim.historyEmits.enumerated() where sim.nodes[emit.sender].running {
            #expect(emit.outcome != nil, "history emit \(number) from n\(emit.sender) never answered")
        }
        _ = bound
    }

    /// The holder of each channel, as the running nodes see it: exactly one node that holds a copy as holder.
    static func holders(_ sim: ClusterSimulation, _ channel: String) -> [Int] {
        sim.nodes.indices.filter { sim.nodes[$0].running && sim.nodes[$0].instance.historyStream(channel)?.holder == sim.nodes[$0].name }
    }

    /// Every copy of every channel keeps at most `size` messages (owner and backup alike), plus what waits for
    /// a backup on a holder.
    static func checkBounded(_ sim: ClusterSimulation, size: Int) {
        for (i, node) in sim.nodes.enumerated() where node.running {
            for channel in ["chat", "news", "room-1", "room-2"] {
                guard let stream = node.instance.historyStream(channel) else { continue }
                let waiting = stream.holder == node.name ? Int(stream.top - stream.released) : 0
                #expect(stream.entries.count <= size + waiting, "n\(i) keeps \(stream.entries.count) of \(channel) (size \(size), \(waiting) waiting)")
            }
        }
    }

    /// Every answered message of the surviving holder's epoch is in its ring at its offset; with `sameEpoch`,
    /// every answered message at all (no epoch was lost).
    static func checkAnsweredKept(_ sim: ClusterSimulation, channel: String, sameEpoch: Bool) {
        let holders = holders(sim, channel)
        let copies = sim.nodes.indices.map { i -> String in
            guard let s = sim.nodes[i].instance.historyStream(channel) else { return "n\(i): none" }
            return "n\(i)\(sim.nodes[i].running ? "" : " (down)"): \(s.epoch) lease \(s.lease) holder \(s.holder) top \(s.top) ranking \(sim.nodes[i].instance.historyRanking(channel))"
        }
        #expect(holders.count == 1, "\(channel): holders \(holders); \(copies)")
        guard let holder = holders.first, let stream = sim.nodes[holder].instance.historyStream(channel) else { return }
        for (number, emit) in sim.historyEmits.enumerated() where emit.channel == channel {
            guard case .appended(let epoch, let offset, _) = emit.outcome else { continue }
            if sameEpoch { #expect(epoch == stream.epoch, "emit \(number) answered in \(epoch), holder n\(holder) keeps \(stream.epoch)") }
            guard epoch == stream.epoch else { continue }
            let kept = stream.entries.first { $0.offset == offset }
            let data = kept.map { String(decoding: $0.data, as: UTF8.self) }
            #expect(data == "{\"n\":\(number)}", "emit \(number) answered at \(offset) of \(epoch); n\(holder) keeps \(data ?? "nothing")")
        }
    }
}
