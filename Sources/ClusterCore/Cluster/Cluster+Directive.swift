extension Cluster {
    /// What the shell must do after handing an input to ``Cluster/Instance``: every directive, in order,
    /// with an exhaustive `switch`.
    public enum Directive<Data: Sendable>: Sendable {
        /// Send `frame` to each of `peers`, encoded once; the protocol tolerates its loss.
        case send(Frame<Data>, to: [String])
        /// Send `frame` to each of `peers`, encoded once, and report what the mesh did with each through
        /// ``Cluster/Instance/sent(_:to:outcomes:now:)`` (same order as `peers`).
        case sendReporting(Frame<Data>, to: [String])
        /// Offer the frames waiting for `peer`, in order, stopping at the first the mesh answers
        /// `notConnected`; report the outcomes of those offered through
        /// ``Cluster/Instance/outboxOffered(to:outcomes:now:)``.
        case offerOutbox(peer: String, frames: [Frame<Data>])
        /// Keep a mesh link to `address` (dial with backoff until `forget`).
        case connect(address: String)
        /// Stop redialing `address` (its member is dead or left).
        case forget(address: String)
        /// Hand a push from `peer` to the local subscribers; with `ack`, answer `peer` with an ack frame for that
        /// request carrying the count reached, once the delivery is settled.
        case deliver(Push<Data>, from: String, ack: RequestID?)
        /// Answer `peer`'s status query `requestID` with this node's own counts.
        case answerStats(requestID: RequestID, to: String)
        /// Answer `peer`'s presence request `requestID` from this node's own connections (a `presenceReply`).
        case answerPresence(requestID: RequestID, request: PresenceRequest, to: String)
        /// Complete the presence request with the replies of the nodes that answered.
        case completePresence(RequestID, [PresenceReply])
        /// Tell this node's subscribers of each event's channel that a user joined or left.
        case presenceEvents([PresenceEvent])
        /// Complete the emit `request` with the counts of the nodes that answered.
        case completeCounts(RequestID, [NodeCount])
        /// Complete the status query `request` with the stats of the nodes that answered.
        case completeStats(RequestID, [LocalStats])
        /// The subscription `request` waited for is visible (or its wait ran out).
        case completeVisibility(RequestID)
        /// The members other than this node, as status queries show them.
        case publishMembers([MemberView])
        /// Hand a history channel's entry to the local subscribers (frames carry `epoch` and the offset). With
        /// `ack`, answer `from` with an ack frame carrying the count; when `from` is this node, report the count
        /// through ``Cluster/Instance/historyDelivered(requestID:count:now:)`` instead.
        case deliverHistory(channel: String, epoch: String, entry: History.Entry<Data>, from: String, ack: RequestID?)
        /// Complete the history emit `request`.
        case completeHistoryAppend(RequestID, History.AppendOutcome)
        /// Complete the history read `request`.
        case completeHistoryRead(RequestID, History.ReadOutcome<Data>)
        /// The messages and bytes this node keeps (owner and backup copies alike), for the gauges.
        case publishHistory(messages: Int, bytes: Int)
        /// Add `by` to the node's counter `counter`.
        case count(Counter, by: Int)
        /// Something worth a log line.
        case report(Report)
        /// Replace the single timer with one that calls ``Cluster/Instance/onTick(now:)`` at `at` (same clock
        /// as `now`). Extra or early ticks are harmless.
        case scheduleTick(at: Duration)
    }

    /// The counters the cluster instance keeps (exported by the shell's metrics).
    public enum Counter: Sendable, Hashable, CaseIterable {
        /// Messages handed to the mesh for another node (one per message and node).
        case forwardsSent
        /// Messages to another node given up on: its link stayed down past the forward timeout, its queue was
        /// full when the outbox was offered again, or it died with frames waiting.
        case forwardsDropped
        /// Frames from a peer that did not decode.
        case malformedFrames
        /// Channels this node took over (a transfer to it, or a takeover after its holder died).
        case channelOwnerChanges
    }

    /// Events the shell logs.
    public enum Report: Sendable {
        /// A member was learned or changed state.
        case memberChanged(Membership.MemberChange)
        /// Peers did not acknowledge a subscription in time and are being probed.
        case visibilityTimedOut(channel: String, laggards: [String])
        /// A frame of `kind` from `peer` did not decode.
        case malformedFrame(kind: UInt8, from: String)
        /// The interest table ignored an input.
        case interestIgnored(InterestIgnoredReason)
    }
}
