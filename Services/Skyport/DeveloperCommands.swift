import ArgumentParser
import SkyportProto

/// `skyport developer`: developer accounts (the operator's commands).
struct DeveloperCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "developer", abstract: "Manage developer accounts and their API keys (operator).",
        subcommands: [Create.self, Show.self, AddKey.self, RevokeKey.self])

    /// `skyport developer create`.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a developer and print its API key (shown once; only its hash is stored).")

        @OptionGroup var connection: EntitlementConnection
        @Option(help: "The developer's name.") var name: String
        @Option(help: "The developer's e-mail address.") var email: String

        func run() async throws {
            var request = Skyport_Entitlement_V1_CreateDeveloperRequest()
            request.displayName = self.name
            request.email = self.email
            let created = try await self.connection.run { try await $0.createDeveloper(request) }
            print("developer: \(created.developer?.developerId ?? "?")")
            DeveloperCommand.reveal(created.apiKey)
        }
    }

    /// `skyport developer show`.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a developer and the ids of its active API keys.")

        @OptionGroup var connection: EntitlementConnection
        @Argument(help: "The developer id (dev_…).") var developer: String

        func run() async throws {
            var request = Skyport_Entitlement_V1_GetDeveloperRequest()
            request.developerId = self.developer
            DeveloperCommand.show(try await self.connection.run { try await $0.getDeveloper(request) })
        }
    }

    /// `skyport developer add-key`.
    struct AddKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-key",
            abstract: "Add an API key to a developer and print it (shown once). To rotate: add, move callers, revoke.")

        @OptionGroup var connection: EntitlementConnection
        @Argument(help: "The developer id (dev_…).") var developer: String

        func run() async throws {
            var request = Skyport_Entitlement_V1_CreateAPIKeyRequest()
            request.developerId = self.developer
            let created = try await self.connection.run { try await $0.createAPIKey(request) }
            DeveloperCommand.reveal(created.apiKey)
        }
    }

    /// `skyport developer revoke-key`.
    struct RevokeKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-key",
            abstract: "Revoke one of a developer's API keys; calls with it fail from then on.")

        @OptionGroup var connection: EntitlementConnection
        @Argument(help: "The developer id (dev_…).") var developer: String
        @Argument(help: "The key id: the part of the key between sk_ and the next _.") var keyID: String

        func run() async throws {
            var request = Skyport_Entitlement_V1_RevokeAPIKeyRequest()
            request.developerId = self.developer
            request.apiKeyId = self.keyID
            let developer = try await self.connection.run { try await $0.revokeAPIKey(request) }
            print("revoked \(self.keyID)")
            DeveloperCommand.show(developer)
        }
    }

    /// Prints a new API key, the one time it is shown.
    static func reveal(_ apiKey: String) {
        print("api key:   \(apiKey)")
        print("(shown once: keep it, e.g. export SKYPORT_API_KEY=...)")
    }

    /// A developer and its active key ids.
    static func show(_ developer: Skyport_Entitlement_V1_Developer) {
        print("developer: \(developer.developerId)  \(developer.displayName) <\(developer.email)>")
        print("api keys:  \(developer.apiKeyIds.isEmpty ? "none active" : developer.apiKeyIds.joined(separator: ", "))")
    }
}

/// `skyport app`: a developer's applications and versions.
struct AppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app", abstract: "Register, publish and show applications (developer, API key).",
        subcommands: [Register.self, Publish.self, Show.self])

    /// `skyport app register`.
    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register an application; prints its id.")

        @OptionGroup var connection: EntitlementConnection
        @Option(help: "The application's name.") var name: String
        @Option(help: "Its home data centre, e.g. dc1.") var home: String
        @Option(help: "Normalised CPU units per instance.") var cpu: UInt32 = 1
        @Option(name: .customLong("memory-mib"), help: "Memory per instance in MiB.") var memoryMiB: UInt64 = 1024
        @Option(name: .customLong("min-gpu-score"), help: "The least GPU score a host needs.") var minGPUScore: UInt32 =
            0
        @Option(name: .customLong("sessions-per-instance"), help: "Sessions one instance serves at once.")
        var sessionsPerInstance: UInt32 = 1

        func run() async throws {
            var request = Skyport_Entitlement_V1_RegisterApplicationRequest()
            request.name = self.name
            request.homeDatacentre = self.home
            var profile = Skyport_Entitlement_V1_ResourceProfile()
            profile.cpuUnits = self.cpu
            profile.memoryMib = self.memoryMiB
            profile.minGpuScore = self.minGPUScore
            profile.sessionsPerInstance = self.sessionsPerInstance
            request.profile = profile
            let metadata = try self.connection.developerMetadata()
            let app = try await self.connection.run { try await $0.registerApplication(request, metadata: metadata) }
            print(app.appId)
        }
    }

    /// `skyport app publish`.
    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Publish a version of an application.")

        @OptionGroup var connection: EntitlementConnection
        @Argument(help: "The application id.") var app: String
        @Option(help: "The version id, e.g. 1.0.0.") var version: String
        @Option(help: "The launch command inside the package.") var command: String
        @Option(name: .customLong("release-at"), help: "Release date (RFC 3339); default: now.") var releaseAt: String?

        func run() async throws {
            var request = Skyport_Entitlement_V1_PublishVersionRequest()
            request.appId = self.app
            request.versionId = self.version
            request.launchCommand = self.command
            if let releaseAt = self.releaseAt { request.releaseAtUnixMs = try CommandLineDate.milliseconds(releaseAt) }
            let metadata = try self.connection.developerMetadata()
            let published = try await self.connection.run { try await $0.publishVersion(request, metadata: metadata) }
            print(
                "\(published.appId) \(published.versionId) released \(CommandLineDate.text(published.releaseAtUnixMs))")
        }
    }

    /// `skyport app show`.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an application and its versions.")

        @OptionGroup var connection: EntitlementConnection
        @Argument(help: "The application id.") var app: String

        func run() async throws {
            var request = Skyport_Entitlement_V1_GetApplicationRequest()
            request.appId = self.app
            let metadata = try self.connection.developerMetadata()
            let app = try await self.connection.run { try await $0.getApplication(request, metadata: metadata) }
            let profile = app.profile ?? .init()
            print("\(app.appId)  \(app.name)  home \(app.homeDatacentre)")
            print(
                "profile: \(profile.cpuUnits) CPU, \(profile.memoryMib) MiB, GPU ≥ \(profile.minGpuScore), "
                    + "\(profile.sessionsPerInstance) session(s) per instance")
            print(
                Table.render(
                    ["VERSION", "RELEASE", "COMMAND"],
                    app.versions.map { [$0.versionId, CommandLineDate.text($0.releaseAtUnixMs), $0.launchCommand] }))
        }
    }
}

/// `skyport entitlement`: which user may use which application.
struct EntitlementCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "entitlement", abstract: "Grant, revoke and list entitlements (developer, API key).",
        subcommands: [Grant.self, Revoke.self, List.self])

    /// `skyport entitlement grant`.
    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant a user an application.")

        @OptionGroup var connection: EntitlementConnection
        @Argument(help: "The application id.") var app: String
        @Argument(help: "The user id.") var user: String
        @Option(help: "purchase, subscription, trial or pre-order.") var kind = "purchase"
        @Option(help: "Expiry (RFC 3339); default: none.") var expires: String?

        func run() async throws {
            var request = Skyport_Entitlement_V1_GrantEntitlementRequest()
            request.appId = self.app
            request.userId = self.user
            switch self.kind {
            case "purchase": request.kind = .purchase
            case "subscription": request.kind = .subscription
            case "trial": request.kind = .trial
            case "pre-order": request.kind = .preOrder
            default: throw ValidationError("--kind must be purchase, subscription, trial or pre-order")
            }
            if let expires = self.expires { request.expiresAtUnixMs = try CommandLineDate.milliseconds(expires) }
            let metadata = try self.connection.developerMetadata()
            _ = try await self.connection.run { try await $0.grantEntitlement(request, metadata: metadata) }
            print("granted \(self.kind) of \(self.app) to \(self.user)")
        }
    }

    /// `skyport entitlement revoke`.
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a user's entitlement.")

        @OptionGroup var connection: EntitlementConnection
        @Argument(help: "The application id.") var app: String
        @Argument(help: "The user id.") var user: String

        func run() async throws {
            var request = Skyport_Entitlement_V1_RevokeEntitlementRequest()
            request.appId = self.app
            request.userId = self.user
            let metadata = try self.connection.developerMetadata()
            _ = try await self.connection.run { try await $0.revokeEntitlement(request, metadata: metadata) }
            print("revoked \(self.app) for \(self.user)")
        }
    }

    /// `skyport entitlement list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List an application's entitlements.")

        @OptionGroup var connection: EntitlementConnection
        @Argument(help: "The application id.") var app: String

        func run() async throws {
            var request = Skyport_Entitlement_V1_ListEntitlementsRequest()
            request.appId = self.app
            let metadata = try self.connection.developerMetadata()
            let listed = try await self.connection.run { try await $0.listEntitlements(request, metadata: metadata) }
            print(
                Table.render(
                    ["USER", "KIND", "EXPIRES", "REVOKED"],
                    listed.entitlements.map {
                        [
                            $0.userId, "\($0.kind)", CommandLineDate.text($0.expiresAtUnixMs),
                            CommandLineDate.text($0.revokedAtUnixMs),
                        ]
                    }))
        }
    }
}

/// `skyport session`: the developer's side of a session.
struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session", abstract: "Request sessions (developer, API key).", subcommands: [Request.self])

    /// `skyport session request`.
    struct Request: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Request a session for a user; prints the one-time token and where to redeem it.")

        @OptionGroup var connection: EntitlementConnection
        @Argument(help: "The application id.") var app: String
        @Argument(help: "The user id.") var user: String
        @Option(help: "Token validity in seconds (1 to 604800); default 60.") var validity: UInt32 = 0
        @Option(name: .customLong("client-cidr"), help: "Only clients in this address block may redeem.")
        var clientCIDR: String?

        func run() async throws {
            var request = Skyport_Entitlement_V1_RequestSessionRequest()
            request.appId = self.app
            request.userId = self.user
            request.tokenValiditySeconds = self.validity
            request.clientCidr = self.clientCIDR ?? ""
            let metadata = try self.connection.developerMetadata()
            let session = try await self.connection.run { try await $0.requestSession(request, metadata: metadata) }
            print("session:    \(session.sessionId)")
            print("expires:    \(CommandLineDate.text(session.expiresAtUnixMs))")
            print("redeem at:  \(session.redemptionEndpoints.joined(separator: ", "))")
            print("token:      \(session.tokenText)")
            print("redeem url: \(session.redeemUrl)")
        }
    }
}
