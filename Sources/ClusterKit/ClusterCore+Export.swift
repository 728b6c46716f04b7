// ClusterKit's users see the pure cores (membership, interest, the cluster instance) through it.
@_exported import ClusterCore
