@testable import ClusterCore
import RocketWSTestKit

/// A deterministic, seeded simulation of N interest tables over a lossy, partitionable full mesh.
///
/// Time advances in ticks. In a tick: random local subscribe/unsubscribe churn, every node
/// flushes, every `digestEvery` ticks every node runs its digest tick, then messages are delivered
/// in FIFO steps (per-link order kept) until the network is quiet. Each message is encoded once
/// and decoded (the wire format is exercised and measured), then dropped with probability `loss`
/// per recipient, or when sender and recipient are on different sides of a partition.
struct InterestSimulation {
    struct Config {
        var nodes: Int
        var seed: UInt64
        var loss: Double
        var channels: Int
        var churnTicks = 60
        /// Probability that a node changes one subscription in a tick.
        var churnPerNode = 0.5
        var digestEvery = 5
        /// Ticks during which the cluster is split in two halves.
        var partition: Range<Int>? = 20..<40
        /// Node restarted (new epoch, subscriptions lost) at this tick.
        var restart: (node: Int, tick: Int)? = nil
        /// Whether membership reacts to the partition: each side removes the other side's nodes
        /// when it starts and greets them (`nodeJoined`) when it heals.
        var membershipFollowsPartition = false
        var maxRepairRounds = 40
        /// Check the visibility invariant every this many ticks.
        var safetyCheckEvery = 1
    }

    struct Figures: CustomStringConvertible {
        /// Messages put on the wire (a broadcast counts once per peer).
        var messages = 0
        /// Messages that survived loss and partition.
        var deliveries = 0
        var bytes = 0
        var maxMessageBytes = 0
        var syncRequests = 0
        var snapshotChunks = 0
        var repairRounds = -1
        var repairMessages = 0
        var safetyChecks = 0

        var description: String {
            "repair rounds=\(self.repairRounds) messages=\(self.messages) deliveries=\(self.deliveries) "
                + "bytes=\(self.bytes) maxMessage=\(self.maxMessageBytes)B syncRequests=\(self.syncRequests) "
                + "snapshotChunks=\(self.snapshotChunks) repairMessages=\(self.repairMessages) "
                + "safetyChecks=\(self.safetyChecks)"
        }
    }

    let config: Config
    let names: [String]
    var tables: [InterestTable]
    var rng: SeededGenerator
    var figures = Figures()
    var tick = 0
    /// Visibility violations found (owner, peer, channel).
    var violations: [String] = []

    init(_ config: Config) {
        self.config = config
        self.names = (0..<config.nodes).map { "node\($0)" }
        var settings = InterestTable.Settings()
        settings.maxOpsPerDelta = 16
        settings.maxChannelsPerChunk = 32
        self.tables = self.names.map { InterestTable(nodeName: $0, epoch: 1, settings: settings) }
        self.rng = SeededGenerator(seed: config.seed)
    }

    private var partitioned: Bool { self.config.partition?.contains(self.tick) ?? false }

    private func side(_ node: Int) -> Int { node < self.config.nodes / 2 ? 0 : 1 }

    // MARK: Running

    /// Runs churn (with the partition), then heals and runs digest rounds until every table
    /// matches the owners' truth and every owner's latest version is acknowledged by all peers.
    mutating func run() -> Bool {
        for _ in 0..<self.config.churnTicks {
            self.churn()
            self.step(digest: self.tick % self.config.digestEvery == 0)
            if self.tick % self.config.safetyCheckEvery == 0 { self.checkVisibility() }
            self.tick += 1
        }
        // Healed (the partition range is over), churn stopped, loss continues.
        self.tick = max(self.tick, self.config.partition?.upperBound ?? 0)
        let before = self.figures.messages
        for round in 1...self.config.maxRepairRounds {
            self.step(digest: true)
            self.checkVisibility()
            self.tick += 1
            if self.converged() {
                self.figures.repairRounds = round
                self.figures.repairMessages = self.figures.messages - before
                return true
            }
        }
        return false
    }

    private mutating func churn() {
        if self.config.membershipFollowsPartition, let partition = self.config.partition {
            var outgoing: [(Int, InterestDirective)] = []
            for node in self.tables.indices {
                for other in self.tables.indices where self.side(node) != self.side(other) {
                    if self.tick == partition.lowerBound {
                        outgoing += self.tables[node].removeNode(self.names[other]).map { (node, $0) }
                    } else if self.tick == partition.upperBound {
                        outgoing += self.tables[node].nodeJoined(self.names[other]).map { (node, $0) }
                    }
                }
            }
            self.deliver(outgoing)
        }
        if let restart = self.config.restart, restart.tick == self.tick {
            let node = restart.node
            let name = self.names[node]
            let old = self.tables[node]
            self.tables[node] = InterestTable(nodeName: name, epoch: old.epoch + 1, settings: old.settings)
            // Membership notices the new process: everyone forgets its old acks and greets it.
            var outgoing: [(Int, InterestDirective)] = []
            for other in self.tables.indices where other != node {
                outgoing += self.tables[other].nodeJoined(name).map { (other, $0) }
                outgoing += self.tables[node].nodeJoined(self.names[other]).map { (node, $0) }
            }
            self.deliver(outgoing)
        }
        for node in self.tables.indices where self.rng.chance(self.config.churnPerNode) {
            let channel = "ch\(self.rng.next() % UInt64(self.config.channels))"
            if self.tables[node].localCount(of: channel) > 0 && self.rng.chance(0.5) {
                self.tables[node].localUnsubscribed(channel: channel)
            } else {
                self.tables[node].localSubscribed(channel: channel)
            }
        }
    }

    private mutating func step(digest: Bool) {
        var outgoing: [(Int, InterestDirective)] = []
        for node in self.tables.indices {
            let directives = digest ? self.tables[node].onDigestTick(peers: self.names) : self.tables[node].flush()
            outgoing += directives.map { (node, $0) }
        }
        self.deliver(outgoing)
    }

    /// Delivers directives' messages, then the answers they cause, until the network is quiet.
    private mutating func deliver(_ initial: [(Int, InterestDirective)]) {
        var outgoing = initial
        var steps = 0
        while !outgoing.isEmpty {
            steps += 1
            precondition(steps < 1_000, "the protocol must quiesce")
            var next: [(Int, InterestDirective)] = []
            for (from, directive) in outgoing {
                guard let (message, to) = directive.outgoing else { continue }
                let bytes = message.encoded()
                guard let decoded = InterestMessage.decode(bytes), decoded == message else {
                    preconditionFailure("wire round trip failed for \(message)")
                }
                let recipients = to.map { [self.names.firstIndex(of: $0)!] } ?? Array(self.tables.indices)
                let sent = recipients.count - (recipients.contains(from) ? 1 : 0)
                self.figures.messages += sent
                self.figures.bytes += bytes.count * sent
                self.figures.maxMessageBytes = max(self.figures.maxMessageBytes, bytes.count)
                if case .syncRequest = message { self.figures.syncRequests += 1 }
                if case .snapshot = message { self.figures.snapshotChunks += 1 }
                for recipient in recipients where recipient != from {
                    if self.partitioned && self.side(from) != self.side(recipient) { continue }
                    if self.rng.chance(self.config.loss) { continue }
                    self.figures.deliveries += 1
                    let answers = self.tables[recipient].apply(decoded, from: self.names[from])
                    next += answers.map { (recipient, $0) }
                }
            }
            outgoing = next
        }
    }

    // MARK: Checking

    /// Whether every node's view of every other owner equals the owner's truth (its channels
    /// with local subscribers), at the owner's epoch and version, and every owner's version is
    /// acknowledged by every peer.
    func converged() -> Bool {
        for (o, owner) in self.tables.enumerated() {
            let truth = Set(owner.localCounts.keys)
            guard owner.publishedLocalChannels == truth, !owner.hasPendingOps else { return false }
            guard owner.isAcknowledged(version: owner.flushedVersion, by: self.names) else { return false }
            for (p, peer) in self.tables.enumerated() where p != o {
                guard let state = peer.knownState(of: self.names[o]),
                    state.epoch == owner.epoch, state.version == owner.flushedVersion,
                    peer.channels(of: self.names[o]) == truth
                else { return false }
            }
        }
        return true
    }

    /// Subscribe visibility: whenever an owner considers a channel's add acknowledged by every
    /// peer, every peer routes that channel to the owner.
    mutating func checkVisibility() {
        self.figures.safetyChecks += 1
        for (o, owner) in self.tables.enumerated() {
            for (channel, version) in owner.addedAt where owner.isAcknowledged(version: version, by: self.names) {
                for (p, peer) in self.tables.enumerated() where p != o && !peer.route(channel).contains(self.names[o]) {
                    self.violations.append("\(self.names[o]) -> \(self.names[p]): \(channel)@\(version)")
                }
            }
        }
    }
}
