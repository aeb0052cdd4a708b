import SkyportConfig
import Testing

enum Keys {
    static let port = ConfigKey<Int>("rpc.port", default: 8443, help: "Port the RPC server listens on.")
    static let address = ConfigKey<HostAndPort>.required("peer.address", help: "Address of the peer service.")
    static let verbose = ConfigKey<Bool>("log.verbose", default: false, help: "Log every call.")
    static let timeout = ConfigKey<Duration>("rpc.timeout", default: .seconds(30), help: "Call timeout.")
    static let store = ConfigKey<ConfigURL>("store.url", default: ConfigURL("sqlite:///tmp/x.db")!, help: "Store URL.")
    static let name = ConfigKey<String>("dc.name", default: "dc1", help: "Data centre name.")
    static let token = ConfigKey<String>.required("admin.token", help: "Admin token.", secret: true)
    static let region = ConfigKey<String?>("dc.region", help: "Optional region.")
}

let schema = ConfigSchema(
    service: "hostmgr",
    keys: [Keys.port, Keys.address, Keys.verbose, Keys.timeout, Keys.store, Keys.name, Keys.token, Keys.region])
let minimalEnvironment = ["SKYPORT_HOSTMGR_PEER_ADDRESS": "127.0.0.1:9000", "SKYPORT_HOSTMGR_ADMIN_TOKEN": "s3cr3t"]

func parseError(_ arguments: [String], _ environment: [String: String] = minimalEnvironment) -> ConfigError? {
    do {
        _ = try schema.parse(arguments: arguments, environment: environment)
        return nil
    } catch {
        return error
    }
}

@Suite struct ConfigSchemaTests {
    @Test func defaultsApplyWhenNothingIsSet() throws {
        let config = try schema.parse(arguments: [], environment: minimalEnvironment)
        #expect(config[Keys.port] == 8443)
        #expect(config[Keys.verbose] == false)
        #expect(config[Keys.timeout] == .seconds(30))
        #expect(config[Keys.store].scheme == "sqlite")
        #expect(config[Keys.name] == "dc1")
        #expect(config[Keys.region] == nil)
        #expect(config[Keys.address] == HostAndPort(host: "127.0.0.1", port: 9000))
        #expect(config.source(of: "rpc.port") == .default)
        #expect(config.source(of: "peer.address") == .environment("SKYPORT_HOSTMGR_PEER_ADDRESS"))
    }

    @Test func flagsBeatEnvironmentWhichBeatsDefaults() throws {
        var environment = minimalEnvironment
        environment["SKYPORT_HOSTMGR_RPC_PORT"] = "7000"
        environment["SKYPORT_HOSTMGR_DC_NAME"] = "from-env"
        let config = try schema.parse(arguments: ["--rpc-port", "9001"], environment: environment)
        #expect(config[Keys.port] == 9001)
        #expect(config.source(of: "rpc.port") == .flag("--rpc-port"))
        #expect(config[Keys.name] == "from-env")
        #expect(config.source(of: "dc.name") == .environment("SKYPORT_HOSTMGR_DC_NAME"))
        #expect(config[Keys.timeout] == .seconds(30))
    }

    @Test func bothFlagFormsAndSwitches() throws {
        let config = try schema.parse(
            arguments: ["--rpc-port=1234", "--dc-name", "west", "--log-verbose", "--rpc-timeout=500ms", "--dc-region=eu"],
            environment: minimalEnvironment)
        #expect(config[Keys.port] == 1234)
        #expect(config[Keys.name] == "west")
        #expect(config[Keys.verbose] == true)
        #expect(config[Keys.timeout] == .milliseconds(500))
        #expect(config[Keys.region] == "eu")
        let off = try schema.parse(arguments: ["--log-verbose=false"], environment: minimalEnvironment)
        #expect(off[Keys.verbose] == false)
        // An equals sign inside the value belongs to the value.
        let url = try schema.parse(arguments: ["--store-url=postgres://h/db?sslmode=require"], environment: minimalEnvironment)
        #expect(url[Keys.store].string == "postgres://h/db?sslmode=require")
    }

    @Test func environmentNamesUpperCaseServiceAndKey() {
        let dashed = ConfigSchema(service: "token-redemption", keys: [Keys.port])
        #expect(dashed.environmentVariable(for: Keys.port) == "SKYPORT_TOKEN_REDEMPTION_RPC_PORT")
        #expect(schema.environmentVariable(for: Keys.address) == "SKYPORT_HOSTMGR_PEER_ADDRESS")
        #expect(schema.flag(for: Keys.address) == "--peer-address")
    }

    @Test(arguments: [
        ("--rpc-port=eighty", "rpc.port", "an integer"),
        ("--log-verbose=maybe", "log.verbose", "true or false"),
        ("--rpc-timeout=30", "rpc.timeout", "a duration"),
        ("--rpc-timeout=-1s", "rpc.timeout", "a duration"),
        ("--rpc-timeout=1.2.3s", "rpc.timeout", "a duration"),
        ("--store-url=not a url", "store.url", "a URL"),
        ("--peer-address=localhost", "peer.address", "host:port"),
        ("--peer-address=localhost:70000", "peer.address", "host:port"),
        ("--peer-address=::1:80", "peer.address", "host:port"),
    ])
    func badFlagValuesNameKeySourceAndExpectation(argument: String, key: String, expected: String) throws {
        let error = try #require(parseError([argument]))
        #expect(error.kind == .invalidValue)
        #expect(error.key == key)
        #expect(error.source == .flag(String(argument.prefix { $0 != "=" })))
        #expect(error.message.contains(key))
        #expect(error.message.contains("flag --"))
        #expect(error.message.contains(expected))
        #expect(error.message.contains(String(argument.drop { $0 != "=" }.dropFirst())))
    }

    @Test func badEnvironmentValueNamesTheVariable() throws {
        var environment = minimalEnvironment
        environment["SKYPORT_HOSTMGR_RPC_PORT"] = "x"
        let error = try #require(parseError([], environment))
        #expect(error.kind == .invalidValue)
        #expect(error.source == .environment("SKYPORT_HOSTMGR_RPC_PORT"))
        #expect(error.message.contains("environment variable SKYPORT_HOSTMGR_RPC_PORT"))
    }

    @Test func missingRequiredKeyIsNamedWithWhereToSetIt() throws {
        let error = try #require(parseError([], ["SKYPORT_HOSTMGR_ADMIN_TOKEN": "t"]))
        #expect(error.kind == .missingRequired)
        #expect(error.key == "peer.address")
        #expect(error.message.contains("--peer-address"))
        #expect(error.message.contains("SKYPORT_HOSTMGR_PEER_ADDRESS"))
    }

    @Test func unknownFlagsStrayArgumentsAndMissingValuesFail() throws {
        let unknown = try #require(parseError(["--rpc-prot=1"]))
        #expect(unknown.kind == .unknownFlag)
        #expect(unknown.message.contains("--rpc-prot"))
        #expect(try #require(parseError(["8443"])).kind == .unexpectedArgument)
        let missing = try #require(parseError(["--rpc-port"]))
        #expect(missing.kind == .missingFlagValue)
        #expect(try #require(parseError(["--rpc-port", "--dc-name", "x"])).kind == .missingFlagValue)
        #expect(try #require(parseError(["--rpc-port=1", "--rpc-port=2"])).kind == .duplicateFlag)
        #expect(try #require(parseError(["--help"])).kind == .helpRequested)
    }

    @Test func secretValuesAreNeverEchoed() throws {
        let secretInt = ConfigKey<Int>.required("db.pin", help: "PIN.", secret: true)
        let secretSchema = ConfigSchema(service: "billing", keys: [secretInt, Keys.token])
        let error = try #require(throws: ConfigError.self) {
            try secretSchema.parse(arguments: ["--db-pin=hunter2"], environment: ["SKYPORT_BILLING_ADMIN_TOKEN": "tok"])
        }
        #expect(error.kind == .invalidValue)
        #expect(error.key == "db.pin")
        #expect(!error.description.contains("hunter2"))
        #expect(error.description.contains("secret"))
        // An unknown flag's value might be a secret meant for another flag.
        let unknown = try #require(parseError(["--admin-tokn=hunter2"]))
        #expect(!unknown.description.contains("hunter2"))
        let config = try schema.parse(arguments: ["--admin-token=hunter2"], environment: minimalEnvironment)
        #expect(config[Keys.token] == "hunter2")
        #expect(!config.description.contains("hunter2"))
        #expect(config.description.contains("admin.token=<redacted>"))
        #expect(config.description.contains("rpc.port=8443 (default)"))
    }

    @Test func helpListsEveryKeyWithFlagEnvironmentDefaultAndHelp() {
        let help = schema.helpText()
        for key in schema.keys {
            #expect(help.contains(schema.flag(for: key)))
            #expect(help.contains(schema.environmentVariable(for: key)))
            #expect(help.contains(key.help))
        }
        #expect(help.contains("--rpc-port <int>"))
        #expect(help.contains("default: 8443"))
        #expect(help.contains("default: 30s"))
        #expect(help.contains("default: sqlite:///tmp/x.db"))
        #expect(help.contains("SKYPORT_HOSTMGR_PEER_ADDRESS; required"))
        #expect(help.contains("SKYPORT_HOSTMGR_DC_REGION; default: none"))
        #expect(help.contains("--log-verbose[=<bool>]"))
    }

    @Test func durationsParseAndPrintInTheirUnits() {
        #expect(Duration.parse(configText: "1.5m") == .seconds(90))
        #expect(Duration.parse(configText: "2h") == .seconds(7200))
        #expect(Duration.parse(configText: "0s") == .zero)
        #expect(Duration.parse(configText: "inf s") == nil)
        #expect(Duration.parse(configText: "s") == nil)
        #expect(Duration.seconds(90).configText == "90s")
        #expect(Duration.milliseconds(1500).configText == "1500ms")
        #expect(Duration.seconds(3600).configText == "1h")
        #expect(HostAndPort.parse(configText: "[::1]:8443") == HostAndPort(host: "::1", port: 8443))
        #expect(HostAndPort(host: "::1", port: 1).configText == "[::1]:1")
    }
}
