import ClusterKit
import NIOCore
import ServiceLifecycle

/// A clustered node's link: the ClusterKit shell (membership, interest table, peer mesh).
extension ClusterShell: ClusterLink {
    public var localName: String { settings.nodeName }
    public var localIncarnation: UInt64 { settings.incarnation }
    public var historyEnabled: Bool { settings.history.isEnabled }

    public var meshService: (any Service)? { mesh }

    public func start() async throws -> Int? {
        let port: Int = try await start()
        return port
    }
}

extension NodeAPI: ClusterDeliveryDelegate {}
