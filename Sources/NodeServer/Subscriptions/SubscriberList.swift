/// The subscribers of one channel on one event loop: O(1) insert and remove, tight iteration.
final class SubscriberList<Element: AnyObject> {
    private(set) var members: ContiguousArray<Element> = []
    private var positions: [ObjectIdentifier: Int] = [:]

    var isEmpty: Bool { members.isEmpty }
    var count: Int { members.count }

    func contains(_ session: Element) -> Bool { positions[ObjectIdentifier(session)] != nil }

    /// Adds `session`; returns false when it was already there.
    func insert(_ session: Element) -> Bool {
        let key = ObjectIdentifier(session)
        guard positions[key] == nil else { return false }
        positions[key] = members.count
        members.append(session)
        return true
    }

    /// Removes `session`; returns false when it was not there.
    func remove(_ session: Element) -> Bool {
        guard let index = positions.removeValue(forKey: ObjectIdentifier(session)) else { return false }
        let last = members.count - 1
        if index != last {
            let moved = members[last]
            members[index] = moved
            positions[ObjectIdentifier(moved)] = index
        }
        members.removeLast()
        return true
    }
}
