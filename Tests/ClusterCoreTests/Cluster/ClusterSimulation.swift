@testable import ClusterCore

/// A deterministic discrete-event simulation of several `Cluster.Instance`s on a simulated mesh: links that
/// go down and up, a mesh that drops frames (full queues) with a given probability, crashes and restarts.
/// Every node carries out its instance's directives the way `ClusterShell` does. No wall clock.
final class ClusterSimulation {
    typealias Data = [UInt8]

    struct Config {
        var nodes: Int
        var seed: UInt64 = 1
        /// Probability that the mesh answers `dropped` for a frame (a full queue).
        var dropRate: Double = 0
        var latency: Duration = .milliseconds(1)
        var settings = Cluster.Settings()
    }

    struct Node {
        var name: String
        var address: String
        var incarnation: UInt64
        var instance: Cluster.Instance<Data>
        var running = true
        var tickGeneration = 0
        /// Channels with a local subscriber.
        var subscribed: Set<String> = []
        var countRequests: [Cluster.RequestID: Int] = [:]  // request -> emit number
        var visibilityRequests: [Cluster.RequestID: Duration] = [:]  // request -> asked at
        /// Presence events this node announced to its subscribers, with when.
        var presenceEvents: [(at: Duration, event: PresenceEvent)] = []
        var presenceReplies: [Cluster.RequestID: [PresenceReply]] = [:]
        var historyAppends: [Cluster.RequestID: Int] = [:]  // request -> history emit number
        var historyReads: [Cluster.RequestID: Int] = [:]  // request -> read number
    }

    /// One emit to a history channel and how it ended.
    struct HistoryEmit {
        var sender: Int
        var channel: String
        var at: Duration
        var outcome: History.AppendOutcome?
    }

    /// A history entry handed out or delivered: who gave it (`giver`) and which emit it is.
    struct HistoryDelivery: Hashable {
        var channel: String
        var epoch: String
        var offset: UInt64
        var emit: Int
    }

    /// One emit: who sent it when, and how it ended.
    struct Emit {
        var sender: Int
        var channel: String?
        var at: Duration
        var completedAt: Duration?
        var counts: [NodeCount] = []
    }

    private enum EventKind {
        case tick(node: Int, generation: Int)
        case frame(from: Int, to: Int, link: UInt64, frame: Cluster.Frame<Data>)
        case linkUp(a: Int, b: Int)
    }

    private struct Event {
        var time: Duration
        var order: UInt64
        var kind: EventKind
    }

    let config: Config
    private(set) var now: Duration = .zero
    private(set) var nodes: [Node] = []
    private var indexByName: [String: Int] = [:]
    private var events: [Event] = []
    private var order: UInt64 = 0
    private var random: Membership.SeededRandom
    /// Live links by node pair (lower index first), with a generation: frames of a dead link are lost.
    private var links: [[Int]: UInt64] = [:]
    private var linkGeneration: UInt64 = 0
    private(set) var emits: [Emit] = []
    /// Deliveries per receiver: (emit number, sender).
    private(set) var deliveries: [[(emit: Int, sender: Int)]] = []
    private(set) var dropped = 0
    private(set) var visibilityWaits: [Duration] = []
    private(set) var counters: [Cluster.Counter: Int] = [:]
    private(set) var historyEmits: [HistoryEmit] = []
    /// Entries delivered per node (its subscribers of history channels).
    private(set) var historyDeliveries: [[HistoryDelivery]] = []
    /// Entries handed out by their holder, in order: (giver, delivery).
    private(set) var handedOut: [(giver: Int, delivery: HistoryDelivery)] = []
    private(set) var historyReads: [History.ReadOutcome<Data>?] = []

    init(_ config: Config) {
        self.config = config
        self.random = Membership.SeededRandom(seed: config.seed)
        for i in 0..<config.nodes {
            let member = Membership.Member(name: "n\(i)", address: "10.0.0.\(i):59998", incarnation: 1_000)
            nodes.append(Node(name: member.name, address: member.address, incarnation: 1_000, instance: Self.instance(member, config, seed: config.seed &+ UInt64(i))))
            indexByName[member.name] = i
        }
        deliveries = Array(repeating: [], count: config.nodes)
        historyDeliveries = Array(repeating: [], count: config.nodes)
    }

    private static func instance(_ member: Membership.Member, _ config: Config, seed: UInt64) -> Cluster.Instance<Data> {
        Cluster.Instance(myself: member, settings: config.settings, seed: seed)
    }

    // MARK: Scenario controls

    /// Starts every node, each dialing node 0 (which has the others dial back through gossip).
    func start() {
        for i in nodes.indices {
            carryOut(i, nodes[i].instance.start(seeds: i == 0 ? [] : [nodes[0].address], now: now))
        }
    }

    /// Node `i` gets a local subscriber of `channel`.
    func subscribe(_ i: Int, _ channel: String) {
        nodes[i].subscribed.insert(channel)
        let (answer, directives) = nodes[i].instance.localChannelActivated(channel, now: now)
        switch answer {
        case .now: visibilityWaits.append(.zero)
        case .later(let id): nodes[i].visibilityRequests[id] = now
        }
        carryOut(i, directives)
    }

    /// Node `i` emits to `channel` (nil: `notify_all`), waiting for counts.
    @discardableResult
    func emit(from i: Int, to channel: String?) -> Int {
        let number = emits.count
        emits.append(Emit(sender: i, channel: channel, at: now))
        let data = Array("{\"n\":\(number)}".utf8)
        let (answer, directives) =
            switch channel {
            case .some(let channel): nodes[i].instance.forward(channel: channel, data: data, timestamp: number, awaitCounts: true, now: now)
            case .none: nodes[i].instance.broadcast(data: data, timestamp: number, awaitCounts: true, now: now)
            }
        switch answer {
        case .now(let counts):
            emits[number].completedAt = now
            emits[number].counts = counts
        case .later(let id):
            nodes[i].countRequests[id] = number
        }
        carryOut(i, directives)
        return number
    }

    /// A presence connection of `user` on node `i` joins `channel`.
    func presenceJoin(_ i: Int, _ channel: String, _ user: String, info: String = "{}") {
        carryOut(i, nodes[i].instance.presenceJoined(channel: channel, user: user, info: info, now: now))
    }

    /// A presence connection of `user` on node `i` leaves `channel`.
    func presenceLeave(_ i: Int, _ channel: String, _ user: String) {
        carryOut(i, nodes[i].instance.presenceLeft(channel: channel, user: user, now: now))
    }

    /// Node `i` asks every other node; the replies land in `presenceReplies` under the returned ID (nil: none asked).
    func askPresence(_ i: Int, _ request: PresenceRequest) -> Cluster.RequestID? {
        let (answer, directives) = nodes[i].instance.requestPresence(request, now: now)
        carryOut(i, directives)
        if case .later(let id) = answer { return id }
        return nil
    }

    /// Node `i` emits to the history channel `channel`.
    @discardableResult
    func historyEmit(from i: Int, to channel: String) -> Int {
        let number = historyEmits.count
        historyEmits.append(HistoryEmit(sender: i, channel: channel, at: now))
        let data = Array("{\"n\":\(number)}".utf8)
        let (answer, directives) = nodes[i].instance.historyAppend(channel: channel, data: data, bytes: data.count, timestamp: 1_000_000 + Int(now.components.seconds), now: now)
        guard case .later(let id) = answer else { fatalError("history emits are answered later") }
        nodes[i].historyAppends[id] = number
        carryOut(i, directives)
        return number
    }

    /// Node `i` reads the messages of `channel` after `after` (nil: all kept); the outcome lands in `historyReads`.
    @discardableResult
    func historyRead(from i: Int, _ channel: String, after: UInt64?) -> Int {
        let number = historyReads.count
        historyReads.append(nil)
        let (answer, directives) = nodes[i].instance.historyRead(channel: channel, after: after, limit: nil, unixTime: 1_000_000 + Int(now.components.seconds), now: now)
        guard case .later(let id) = answer else { fatalError("history reads are answered later") }
        nodes[i].historyReads[id] = number
        carryOut(i, directives)
        return number
    }

    /// Node `i` leaves gracefully; it stops after `linger`.
    func leave(_ i: Int, linger: Duration) {
        carryOut(i, nodes[i].instance.leave(now: now))
        run(for: linger)
        carryOut(i, nodes[i].instance.stop())
        crash(i)
    }

    /// Partitions the nodes: every link between `side` and the others breaks and stays broken until `heal`.
    func partition(_ side: Set<Int>) {
        partitioned = side
        for a in side { for b in nodes.indices where !side.contains(b) { breakLink(a, b) } }
    }

    func heal() {
        let side = partitioned
        partitioned = []
        for a in side { for b in nodes.indices where !side.contains(b) { restoreLink(a, b, after: .milliseconds(5)) } }
    }

    private var partitioned: Set<Int> = []

    /// The link between `a` and `b` breaks (frames in flight on it are lost, as on a reset connection).
    func breakLink(_ a: Int, _ b: Int) {
        guard links.removeValue(forKey: [min(a, b), max(a, b)]) != nil else { return }
        for (here, there) in [(a, b), (b, a)] where nodes[here].running {
            carryOut(here, nodes[here].instance.linkDown(name: nodes[there].name, now: now))
        }
    }

    /// The nodes redial: the link between `a` and `b` is back after `after`.
    func restoreLink(_ a: Int, _ b: Int, after: Duration) {
        schedule(now + after, .linkUp(a: a, b: b))
    }

    func crash(_ i: Int) {
        for other in nodes.indices where other != i { breakLink(i, other) }
        nodes[i].running = false
        nodes[i].tickGeneration += 1
    }

    /// Restarts a crashed node under its name with a higher incarnation and its subscriptions gone.
    func restart(_ i: Int, incarnation: UInt64) {
        let member = Membership.Member(name: nodes[i].name, address: nodes[i].address, incarnation: incarnation)
        nodes[i].instance = Self.instance(member, config, seed: random.next())
        nodes[i].incarnation = incarnation
        nodes[i].running = true
        nodes[i].subscribed = []
        nodes[i].countRequests = [:]
        nodes[i].visibilityRequests = [:]
        nodes[i].presenceEvents = []
        nodes[i].historyAppends = [:]
        nodes[i].historyReads = [:]
        carryOut(i, nodes[i].instance.start(seeds: [nodes[i == 0 ? 1 : 0].address], now: now))
    }

    // MARK: Running

    func run(until deadline: Duration) {
        while let next = popNext(before: deadline) {
            now = next.time
            dispatch(next.kind)
        }
        now = deadline
    }

    func run(for duration: Duration) { run(until: now + duration) }

    var pendingRequests: Int { nodes.filter(\.running).reduce(0) { $0 + $1.countRequests.count + $1.visibilityRequests.count } }

    func isActive(_ name: String, seenBy i: Int) -> Bool {
        nodes[i].instance.memberViews.first { $0.name == name }?.state.isActive == true
    }

    private func dispatch(_ kind: EventKind) {
        switch kind {
        case .tick(let i, let generation):
            guard nodes[i].running, nodes[i].tickGeneration == generation else { return }
            carryOut(i, nodes[i].instance.onTick(now: now))
        case .frame(let from, let to, let link, let frame):
            guard links[[min(from, to), max(from, to)]] == link, nodes[to].running else { return }
            carryOut(to, nodes[to].instance.onFrame(frame, from: nodes[from].name, now: now))
        case .linkUp(let a, let b):
            guard nodes[a].running, nodes[b].running, links[[min(a, b), max(a, b)]] == nil,
                partitioned.contains(a) == partitioned.contains(b) || partitioned.isEmpty
            else { return }
            connect(a, b)
        }
    }

    private func connect(_ a: Int, _ b: Int) {
        linkGeneration += 1
        links[[min(a, b), max(a, b)]] = linkGeneration
        carryOut(a, nodes[a].instance.linkUp(name: nodes[b].name, address: nodes[b].address, incarnation: nodes[b].incarnation, now: now))
        carryOut(b, nodes[b].instance.linkUp(name: nodes[a].name, address: nodes[a].address, incarnation: nodes[a].incarnation, now: now))
    }

    /// What the mesh does with one frame from `i` to `peer`.
    private func meshSend(_ frame: Cluster.Frame<Data>, from i: Int, to peer: String) -> Cluster.SendOutcome {
        guard let j = indexByName[peer], let link = links[[min(i, j), max(i, j)]] else { return .notConnected }
        if config.dropRate > 0, Double(random.next() % 1_000_000) / 1_000_000 < config.dropRate {
            dropped += 1
            return .dropped
        }
        // One latency per link keeps a link's frames in order, as TCP does.
        schedule(now + config.latency, .frame(from: i, to: j, link: link, frame: frame))
        return .queued
    }

    /// Carries out directives exactly as `ClusterShell` does.
    private func carryOut(_ i: Int, _ directives: [Cluster.Directive<Data>]) {
        for directive in directives {
            switch directive {
            case .send(let frame, let peers):
                for peer in peers.sorted() { _ = meshSend(frame, from: i, to: peer) }
            case .sendReporting(let frame, let peers):
                // Sorted, so that the drops drawn do not depend on a set's order.
                var outcomeOf: [String: Cluster.SendOutcome] = [:]
                for peer in peers.sorted() { outcomeOf[peer] = meshSend(frame, from: i, to: peer) }
                let outcomes = peers.map { outcomeOf[$0]! }
                carryOut(i, nodes[i].instance.sent(frame, to: peers, outcomes: outcomes, now: now))
            case .offerOutbox(let peer, let frames):
                var outcomes: [Cluster.SendOutcome] = []
                for frame in frames {
                    let outcome = meshSend(frame, from: i, to: peer)
                    outcomes.append(outcome)
                    if outcome == .notConnected { break }
                }
                carryOut(i, nodes[i].instance.outboxOffered(to: peer, outcomes: outcomes, now: now))
            case .connect(let address):
                if let j = nodes.firstIndex(where: { $0.address == address }), j != i {
                    schedule(now + config.latency * 2, .linkUp(a: i, b: j))
                }
            case .forget:
                break
            case .deliver(let push, let peer, let ack):
                let sender = indexByName[peer]!
                let reached = push.channel.map { nodes[i].subscribed.contains($0) ? 1 : 0 } ?? 1
                if reached > 0 { deliveries[i].append((push.timestamp, sender)) }
                if let ack { _ = meshSend(.ack(requestID: ack, count: reached), from: i, to: peer) }
            case .answerStats(let id, let peer):
                let stats = LocalStats(node: nodes[i].name, connections: 1, subscriptions: nodes[i].subscribed.count, channels: [:])
                _ = meshSend(.statsResponse(requestID: id, stats: stats), from: i, to: peer)
            case .completeCounts(let id, let counts):
                guard let number = nodes[i].countRequests.removeValue(forKey: id) else { fatalError("completion of an unknown request") }
                emits[number].completedAt = now
                emits[number].counts = counts
            case .completeStats:
                break
            case .answerPresence(let id, let request, let peer):
                let presence = nodes[i].instance.presence
                let reply: PresenceReply
                switch request {
                case .counts(let channel, let perUser):
                    reply = .counts(connections: presence.localConnectionCount(in: channel), perUser: perUser ? presence.localUserCounts(in: channel) : [:])
                case .disconnect, .unsubscribe:
                    reply = .affected(0)
                }
                _ = meshSend(.presenceReply(requestID: id, reply: reply), from: i, to: peer)
            case .completePresence(let id, let replies):
                nodes[i].presenceReplies[id] = replies
            case .presenceEvents(let events):
                for event in events { nodes[i].presenceEvents.append((now, event)) }
            case .completeVisibility(let id):
                guard let asked = nodes[i].visibilityRequests.removeValue(forKey: id) else { fatalError("unknown visibility request") }
                visibilityWaits.append(now - asked)
            case .publishMembers:
                break
            case .count(let counter, let amount):
                counters[counter, default: 0] += amount
            case .report:
                break
            case .deliverHistory(let channel, let epoch, let entry, let peer, let ack):
                let number = Int(String(decoding: entry.data, as: UTF8.self).dropFirst(5).dropLast())!
                let delivery = HistoryDelivery(channel: channel, epoch: epoch, offset: entry.offset, emit: number)
                if peer == nodes[i].name { handedOut.append((i, delivery)) }
                let reached = nodes[i].subscribed.contains(channel) ? 1 : 0
                if reached > 0 { historyDeliveries[i].append(delivery) }
                if let ack {
                    if peer == nodes[i].name {
                        carryOut(i, nodes[i].instance.historyDelivered(requestID: ack, count: reached, now: now))
                    } else {
                        _ = meshSend(.ack(requestID: ack, count: reached), from: i, to: peer)
                    }
                }
            case .completeHistoryAppend(let id, let outcome):
                guard let number = nodes[i].historyAppends.removeValue(forKey: id) else { fatalError("unknown history emit") }
                historyEmits[number].outcome = outcome
            case .completeHistoryRead(let id, let range):
                guard let number = nodes[i].historyReads.removeValue(forKey: id) else { fatalError("unknown history read") }
                historyReads[number] = .some(range)
            case .publishHistory:
                break
            case .scheduleTick(let at):
                nodes[i].tickGeneration += 1
                schedule(max(at, now), .tick(node: i, generation: nodes[i].tickGeneration))
            }
        }
    }

    // MARK: Event queue (sorted by time, then insertion)

    private func schedule(_ time: Duration, _ kind: EventKind) {
        order += 1
        let event = Event(time: time, order: order, kind: kind)
        let index = events.lastIndex { ($0.time, $0.order) <= (time, order) }.map { $0 + 1 } ?? 0
        events.insert(event, at: index)
    }

    private func popNext(before deadline: Duration) -> Event? {
        guard let first = events.first, first.time <= deadline else { return nil }
        return events.removeFirst()
    }
}
