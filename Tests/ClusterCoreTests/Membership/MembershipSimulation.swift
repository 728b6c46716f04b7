@testable import ClusterCore
import RocketWSTestKit

/// A deterministic discrete-event simulation of many `Membership.Instance`s on a simulated mesh network with
/// latency, loss, partitions, crashes and restarts. No wall clock: time only advances between events.
final class MembershipSimulation {
    struct Config {
        var nodes: Int
        var loss: Double = 0
        var latency: Duration = .microseconds(500)
        var jitter: Duration = .microseconds(500)
        var seed: UInt64 = 1
        var settings = Membership.Settings()
        /// Report a dropped connection to the surviving end when a node crashes (a TCP reset).
        var disconnectHints = true
        /// Round-trip every message through `encoded()` / `decode(_:)`.
        var encodeMessages = false
    }

    struct Node {
        var name: String
        var address: String
        var instance: Membership.Instance
        var running = true
        var epoch = 0
        var tickGeneration = 0
        var group = 0
    }

    private enum EventKind {
        case tick(node: Int, generation: Int)
        case deliver(from: Int, to: Int, epoch: Int, message: Membership.Message)
        case connect(from: Int, to: Int, epoch: Int)
        case disconnectHint(at: Int, about: Int, epoch: Int)
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
    private var heap: [Event] = []
    private var order: UInt64 = 0
    private var random: Membership.SeededRandom
    private var connected: Set<[Int]> = []

    /// Messages sent (counted at the sender, lost or not).
    private(set) var messagesSent = 0
    /// `ping` and `pingRequest` messages sent per target name (direct pings by target, ping-reqs by their target).
    private(set) var probesSent: [String: Int] = [:]
    /// Every `memberChanged` any node emitted, with the time and the observing node.
    private(set) var changes: [(time: Duration, observer: String, change: Membership.MemberChange)] = []

    init(_ config: Config) {
        self.config = config
        self.random = Membership.SeededRandom(seed: config.seed ^ 0xC0FF_EE00)
        for i in 0..<config.nodes {
            let name = Self.name(i)
            let member = Membership.Member(name: name, address: "10.0.0.\(i):59998", incarnation: 1_000)
            let instance = Membership.Instance(
                myself: member,
                settings: config.settings,
                seed: config.seed &* 0x9E37_79B9 &+ UInt64(i)
            )
            nodes.append(Node(name: name, address: member.address, instance: instance))
            indexByName[name] = i
        }
    }

    static func name(_ i: Int) -> String {
        "node-\(i < 10 ? "00" : i < 100 ? "0" : "")\(i)"
    }

    // MARK: Scenario controls

    /// Starts every node's timer and has node `i` (i > 0) dial the seed node 0 at `i × stagger`.
    func startAllJoiningThroughSeed(stagger: Duration = .milliseconds(5)) {
        for i in nodes.indices {
            handle(i, nodes[i].instance.onTick(now: now))
            if i > 0 { push(now + stagger * i, .connect(from: i, to: 0, epoch: nodes[i].epoch)) }
        }
    }

    func crash(_ i: Int) {
        nodes[i].running = false
        nodes[i].epoch += 1
        for pair in connected.filter({ $0.contains(i) }).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            connected.remove(pair)
            let other = pair[0] == i ? pair[1] : pair[0]
            if config.disconnectHints && nodes[other].running {
                push(now + config.latency, .disconnectHint(at: other, about: i, epoch: nodes[other].epoch))
            }
        }
    }

    /// Restarts a crashed node under the same name with a fresh, higher incarnation (wall-clock ms in real
    /// life), joining through `seed`.
    func restart(_ i: Int, incarnation: UInt64, seed: Int = 0) {
        precondition(!nodes[i].running)
        let member = Membership.Member(name: nodes[i].name, address: nodes[i].address, incarnation: incarnation)
        nodes[i].instance = Membership.Instance(myself: member, settings: config.settings, seed: random.next())
        nodes[i].running = true
        nodes[i].tickGeneration += 1
        handle(i, nodes[i].instance.onTick(now: now))
        push(now + config.latency, .connect(from: i, to: seed, epoch: nodes[i].epoch))
    }

    func leave(_ i: Int) {
        handle(i, nodes[i].instance.leave(now: now))
    }

    /// Splits the network: messages and connections between different groups are lost (connections silently
    /// break, as with a pulled cable; no disconnect hints).
    func partition(_ groupOf: (Int) -> Int) {
        for i in nodes.indices { nodes[i].group = groupOf(i) }
        connected = connected.filter { nodes[$0[0]].group == nodes[$0[1]].group }
    }

    func heal() {
        for i in nodes.indices { nodes[i].group = 0 }
    }

    // MARK: Running

    /// Runs events until `deadline`.
    func run(until deadline: Duration) {
        while let first = heap.first, first.time <= deadline {
            let event = pop()
            now = event.time
            dispatch(event.kind)
        }
        now = deadline
    }

    /// Runs until `condition` holds (checked every `step`) or `limit` elapsed; returns the elapsed time.
    func run(for limit: Duration, step: Duration = .milliseconds(50), until condition: () -> Bool) -> Duration? {
        let start = now
        while now - start < limit {
            if condition() { return now - start }
            run(until: now + step)
        }
        return condition() ? now - start : nil
    }

    // MARK: Observations

    var runningIndices: [Int] { nodes.indices.filter { nodes[$0].running } }

    /// Every running node sees exactly the running nodes (minus `excluding`) as alive.
    func aliveViewsAgree(excluding: Set<Int> = []) -> Bool {
        let expected = runningIndices.filter { !excluding.contains($0) }.map { nodes[$0].name }
        return runningIndices.filter { !excluding.contains($0) }.allSatisfy { i in
            let instance = nodes[i].instance
            return instance.aliveCount == expected.count
                && expected.allSatisfy { instance.member(named: $0)?.state == .alive }
        }
    }

    /// Every running node sees exactly the running nodes as members that are not failed (`alive` or `suspect`).
    func activeViewsAgree() -> Bool {
        let expected = runningIndices.map { nodes[$0].name }
        return runningIndices.allSatisfy { i in
            let instance = nodes[i].instance
            return instance.activeCount == expected.count
                && expected.allSatisfy { instance.member(named: $0)?.state.isActive == true }
        }
    }

    /// Every running node other than `i` sees `i` in `state`.
    func everyoneSees(_ i: Int, as state: Membership.MemberState) -> Bool {
        runningIndices.filter { $0 != i }.allSatisfy { nodes[$0].instance.member(named: nodes[i].name)?.state == state }
    }

    /// `dead` verdicts about nodes that were running at the time of the verdict.
    func falsePositives(since: Duration = .zero) -> Int {
        changes.filter { entry in
            guard entry.time >= since, entry.change.newState == .dead,
                let target = indexByName[entry.change.name]
            else { return false }
            return nodes[target].running
        }.count
    }

    // MARK: Internals

    private func dispatch(_ kind: EventKind) {
        switch kind {
        case .tick(let i, let generation):
            guard nodes[i].running, nodes[i].tickGeneration == generation else { return }
            handle(i, nodes[i].instance.onTick(now: now))
        case .deliver(let from, let to, let epoch, let message):
            guard nodes[to].running, nodes[to].epoch == epoch, reachable(from, to) else { return }
            handle(to, nodes[to].instance.onMessage(message, from: nodes[from].name, now: now))
        case .connect(let from, let to, let epoch):
            guard nodes[from].running, nodes[from].epoch == epoch, nodes[to].running, reachable(from, to) else {
                return
            }
            let pair = [min(from, to), max(from, to)]
            guard !connected.contains(pair) else { return }
            connected.insert(pair)
            let a = nodes[from].instance.myself
            let b = nodes[to].instance.myself
            handle(
                from,
                nodes[from].instance.onPeerConnected(
                    name: b.name,
                    address: b.address,
                    incarnation: b.incarnation,
                    now: now
                )
            )
            handle(
                to,
                nodes[to].instance.onPeerConnected(name: a.name, address: a.address, incarnation: a.incarnation, now: now)
            )
        case .disconnectHint(let at, let about, let epoch):
            guard nodes[at].running, nodes[at].epoch == epoch else { return }
            handle(at, nodes[at].instance.onPeerDisconnected(name: nodes[about].name, now: now))
        }
    }

    private func reachable(_ a: Int, _ b: Int) -> Bool { nodes[a].group == nodes[b].group }

    private func handle(_ i: Int, _ directives: [Membership.Directive]) {
        for directive in directives {
            switch directive {
            case .send(let message, let to):
                messagesSent += 1
                switch message {
                case .ping: probesSent[to, default: 0] += 1
                case .pingRequest(_, let target, _): probesSent[target, default: 0] += 1
                default: break
                }
                guard let j = indexByName[to], j != i else { continue }
                if random.chance(config.loss) { continue }
                var delivered = message
                if config.encodeMessages {
                    guard let decoded = Membership.Message.decode(message.encoded()) else {
                        fatalError("codec failed on \(message)")
                    }
                    precondition(decoded == message)
                    delivered = decoded
                }
                push(now + latency(), .deliver(from: i, to: j, epoch: nodes[j].epoch, message: delivered))
            case .connect(let name, _):
                guard let j = indexByName[name], j != i else { continue }
                push(now + latency() * 2, .connect(from: i, to: j, epoch: nodes[i].epoch))
            case .memberChanged(let change):
                changes.append((now, nodes[i].name, change))
            case .memberRemoved:
                break
            case .scheduleTick(let after):
                nodes[i].tickGeneration += 1
                push(now + after, .tick(node: i, generation: nodes[i].tickGeneration))
            }
        }
    }

    private func latency() -> Duration {
        let (s, atto) = config.jitter.components
        let nanos = s * 1_000_000_000 + atto / 1_000_000_000
        return config.latency + .nanoseconds(nanos > 0 ? Int64(random.next() % UInt64(nanos)) : 0)
    }

    // Binary min-heap ordered by (time, insertion order).
    private func push(_ time: Duration, _ kind: EventKind) {
        order += 1
        heap.append(Event(time: time, order: order, kind: kind))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func pop() -> Event {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let l = 2 * parent + 1
                let r = l + 1
                var smallest = parent
                if l < heap.count && less(heap[l], heap[smallest]) { smallest = l }
                if r < heap.count && less(heap[r], heap[smallest]) { smallest = r }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }

    private func less(_ a: Event, _ b: Event) -> Bool {
        a.time != b.time ? a.time < b.time : a.order < b.order
    }
}
