/// The cluster layer of one node as a pure state machine: ``Cluster/Instance`` owns the node's
/// ``Membership/Instance`` and ``InterestTable`` and everything between them and the backends (pending
/// requests, per-peer outboxes, visibility waiters, the one timer). Like ``Membership`` it takes `now` (a
/// `Duration` from an origin the shell fixes once) with every input and answers ``Cluster/Directive``s; the
/// shell (ClusterKit's `ClusterShell`) carries them out over the peer mesh and decides nothing itself.
public enum Cluster {
    /// Names a request (an emit waiting for counts, a status query, a first subscriber waiting for
    /// visibility) between the instance and its shell. Never 0: 0 on the wire means "no ack wanted".
    public typealias RequestID = UInt64
}
