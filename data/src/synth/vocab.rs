//! The hand-written vocabulary of the synthetic world: departments, leaf
//! categories, the words titles use and the (different) words shoppers use,
//! materials, sizes, colours, complements and substitutes.
//!
//! Lexical gaps are deliberate: a leaf's `query_words` never appear in the
//! titles (they appear in a minority of descriptions), so BM25 over titles
//! misses them while a sentence-embedding model can bridge them.

/// One leaf category.
#[derive(Debug, Clone, Copy)]
pub struct LeafSpec {
    /// Department (top of the tree).
    pub dept: &'static str,
    /// Middle level.
    pub sub: &'static str,
    /// Canonical name (the leaf of the category path).
    pub name: &'static str,
    /// Nouns used in titles, `|`-separated.
    pub title_nouns: &'static str,
    /// Colloquial names shoppers type that titles do not use, `|`-separated.
    pub query_words: &'static str,
    /// Median price.
    pub median_price: f64,
    /// Materials, `|`-separated.
    pub materials: &'static str,
    /// Sizes as written in titles, `|`-separated; `/` separates spellings of one size.
    pub sizes: &'static str,
    /// Leaves that go with this one (ESCI "complement").
    pub complements: &'static str,
    /// Leaves that can stand in for this one (ESCI "substitute").
    pub substitutes: &'static str,
    /// Whether products carry model numbers people search for.
    pub model_numbers: bool,
}

macro_rules! leaf {
    ($d:expr, $s:expr, $n:expr, $t:expr, $q:expr, $p:expr, $m:expr, $z:expr, $c:expr, $sub:expr, $mn:expr) => {
        LeafSpec {
            dept: $d,
            sub: $s,
            name: $n,
            title_nouns: $t,
            query_words: $q,
            median_price: $p,
            materials: $m,
            sizes: $z,
            complements: $c,
            substitutes: $sub,
            model_numbers: $mn,
        }
    };
}

/// The category tree (40 leaves in 8 departments).
pub const LEAVES: &[LeafSpec] = &[
    leaf!(
        "Furniture",
        "Living Room",
        "Sofas",
        "Sofa|Sectional Sofa|Loveseat",
        "couch|settee|lounge",
        650.0,
        "velvet|linen|leather|boucle|microfiber",
        "2-seater|3-seater|corner",
        "Throw Blankets|Coffee Tables|Area Rugs",
        "Armchairs",
        false
    ),
    leaf!(
        "Furniture",
        "Living Room",
        "Armchairs",
        "Armchair|Accent Chair|Club Chair",
        "easy chair|reading chair|lounge chair",
        280.0,
        "velvet|linen|leather|rattan|boucle",
        "standard|oversized",
        "Throw Blankets|Floor Lamps",
        "Sofas|Dining Chairs",
        false
    ),
    leaf!(
        "Furniture",
        "Living Room",
        "Coffee Tables",
        "Coffee Table|Cocktail Table",
        "center table|centre table|sofa table",
        190.0,
        "oak|walnut|marble|glass|metal",
        "36 in./36-inch/91 cm|42 in./42-inch/107 cm|round",
        "Sofas|Area Rugs",
        "",
        false
    ),
    leaf!(
        "Furniture",
        "Storage",
        "Bookcases",
        "Bookcase|Bookshelf|Etagere",
        "shelving unit|book rack|shelves",
        160.0,
        "oak|pine|walnut|metal|bamboo",
        "3-shelf|5-shelf|ladder",
        "Table Lamps|Picture Frames",
        "",
        false
    ),
    leaf!(
        "Furniture",
        "Bedroom",
        "Beds",
        "Bed Frame|Platform Bed|Upholstered Bed",
        "bedstead|bed base",
        420.0,
        "oak|pine|metal|velvet|linen",
        "twin|full|queen|king",
        "Sheet Sets|Duvets|Pillows",
        "",
        false
    ),
    leaf!(
        "Furniture",
        "Dining",
        "Dining Chairs",
        "Dining Chair|Side Chair",
        "kitchen chair|dinner chair",
        95.0,
        "oak|walnut|metal|rattan|plastic",
        "set of 2|set of 4|single",
        "",
        "Armchairs|Patio Chairs",
        false
    ),
    leaf!(
        "Kitchen",
        "Small Appliances",
        "Kettles",
        "Electric Kettle|Kettle",
        "tea kettle|water boiler|hot water jug",
        45.0,
        "stainless steel|glass|plastic",
        "1.0 L/1 litre|1.7 L/1.7 litre|1.2 L/1.2 litre",
        "Toasters|Coffee Makers",
        "",
        true
    ),
    leaf!(
        "Kitchen",
        "Small Appliances",
        "Toasters",
        "Toaster|Pop-Up Toaster",
        "bread toaster|toast machine",
        55.0,
        "stainless steel|plastic",
        "2-slice|4-slice",
        "Kettles",
        "",
        true
    ),
    leaf!(
        "Kitchen",
        "Small Appliances",
        "Blenders",
        "Blender|Countertop Blender",
        "smoothie maker|liquidiser|liquidizer",
        80.0,
        "plastic|glass|stainless steel",
        "600 W/600-watt|1000 W/1000-watt|1200 W/1200-watt",
        "Knife Sets",
        "",
        true
    ),
    leaf!(
        "Kitchen",
        "Small Appliances",
        "Coffee Makers",
        "Coffee Maker|Drip Coffee Machine|Espresso Machine",
        "coffee brewer|coffee pot|java maker",
        120.0,
        "stainless steel|plastic|glass",
        "4-cup|12-cup|single serve",
        "Kettles",
        "",
        true
    ),
    leaf!(
        "Kitchen",
        "Cookware",
        "Frying Pans",
        "Frying Pan|Skillet",
        "fry pan|saute pan|frypan",
        40.0,
        "cast iron|stainless steel|ceramic|non-stick aluminum",
        "8 in./8-inch/20 cm|10 in./10-inch/25 cm|12 in./12-inch/30 cm",
        "Knife Sets",
        "",
        false
    ),
    leaf!(
        "Kitchen",
        "Cutlery",
        "Knife Sets",
        "Knife Set|Knife Block Set",
        "cutlery set|chef knives|kitchen knives",
        90.0,
        "stainless steel|carbon steel|ceramic",
        "6-piece|12-piece|15-piece",
        "Frying Pans",
        "",
        false
    ),
    leaf!(
        "Lighting",
        "Lamps",
        "Floor Lamps",
        "Floor Lamp|Arc Lamp|Torchiere",
        "standing lamp|standard lamp|tall lamp",
        110.0,
        "metal|brass|wood|rattan",
        "60 in./60-inch/152 cm|70 in./70-inch/178 cm",
        "Light Bulbs",
        "Table Lamps",
        false
    ),
    leaf!(
        "Lighting",
        "Lamps",
        "Table Lamps",
        "Table Lamp|Desk Lamp",
        "bedside lamp|night light|reading light",
        60.0,
        "ceramic|brass|glass|metal|wood",
        "18 in./18-inch/46 cm|24 in./24-inch/61 cm",
        "Light Bulbs",
        "Floor Lamps",
        false
    ),
    leaf!(
        "Lighting",
        "Ceiling",
        "Pendant Lights",
        "Pendant Light|Pendant Lamp|Chandelier",
        "hanging lamp|ceiling light|hanging light",
        140.0,
        "brass|glass|rattan|metal",
        "1-light|3-light|5-light",
        "Light Bulbs",
        "",
        false
    ),
    leaf!(
        "Lighting",
        "Bulbs",
        "Light Bulbs",
        "LED Bulb|LED Light Bulb",
        "light globe|lightbulb|globe",
        12.0,
        "glass|plastic",
        "A19|E26|GU10|E12",
        "Table Lamps|Floor Lamps",
        "",
        true
    ),
    leaf!(
        "Bedding",
        "Comforters",
        "Duvets",
        "Duvet|Comforter|Down Comforter",
        "quilt|doona|duvet insert",
        130.0,
        "down|cotton|microfiber|wool",
        "twin|full|queen|king",
        "Sheet Sets|Pillows",
        "Throw Blankets",
        false
    ),
    leaf!(
        "Bedding",
        "Pillows",
        "Pillows",
        "Pillow|Bed Pillow",
        "head pillow|sleeping pillow",
        35.0,
        "down|memory foam|cotton|bamboo",
        "standard|queen|king",
        "Sheet Sets|Duvets",
        "",
        false
    ),
    leaf!(
        "Bedding",
        "Sheets",
        "Sheet Sets",
        "Sheet Set|Bed Sheet Set",
        "bed linen|bedding set|sheets",
        70.0,
        "cotton|linen|bamboo|microfiber|flannel",
        "twin|full|queen|king",
        "Duvets|Pillows",
        "",
        false
    ),
    leaf!(
        "Bedding",
        "Throws",
        "Throw Blankets",
        "Throw Blanket|Knit Throw",
        "throw|afghan|sofa blanket",
        45.0,
        "cotton|wool|fleece|faux fur",
        "50x60 in./50 x 60 inch|60x80 in./60 x 80 inch",
        "Sofas|Armchairs",
        "Duvets",
        false
    ),
    leaf!(
        "Bath",
        "Towels",
        "Bath Towels",
        "Bath Towel|Towel Set",
        "bath sheet|shower towel",
        30.0,
        "cotton|turkish cotton|bamboo|linen",
        "2-piece|4-piece|6-piece",
        "Bath Mats",
        "",
        false
    ),
    leaf!(
        "Bath",
        "Shower",
        "Shower Curtains",
        "Shower Curtain|Shower Curtain Liner",
        "shower screen|bath curtain",
        25.0,
        "polyester|cotton|linen|vinyl",
        "72x72 in./72 x 72 inch|extra long",
        "Bath Mats|Bath Towels",
        "",
        false
    ),
    leaf!(
        "Bath",
        "Bath Rugs",
        "Bath Mats",
        "Bath Mat|Bath Rug",
        "shower mat|bathroom rug|bath carpet",
        22.0,
        "cotton|memory foam|bamboo|chenille",
        "17x24 in./17 x 24 inch|20x32 in./20 x 32 inch",
        "Bath Towels|Shower Curtains",
        "Area Rugs",
        false
    ),
    leaf!(
        "Outdoor",
        "Patio Furniture",
        "Patio Chairs",
        "Patio Chair|Garden Chair|Adirondack Chair",
        "lawn chair|deck chair|porch chair",
        120.0,
        "teak|acacia|resin wicker|metal|plastic",
        "set of 2|set of 4|single",
        "Patio Umbrellas",
        "Dining Chairs",
        false
    ),
    leaf!(
        "Outdoor",
        "Grilling",
        "Grills",
        "Gas Grill|Charcoal Grill|BBQ Grill",
        "barbecue|barbie|cookout grill",
        380.0,
        "stainless steel|cast iron|porcelain-enamel steel",
        "2-burner|3-burner|4-burner",
        "Patio Chairs",
        "",
        true
    ),
    leaf!(
        "Outdoor",
        "Shade",
        "Patio Umbrellas",
        "Patio Umbrella|Market Umbrella|Cantilever Umbrella",
        "parasol|sun umbrella|sunshade",
        110.0,
        "polyester|olefin|sunbrella acrylic",
        "7.5 ft/7.5-foot|9 ft/9-foot|11 ft/11-foot",
        "Patio Chairs",
        "",
        false
    ),
    leaf!(
        "Outdoor",
        "Watering",
        "Garden Hoses",
        "Garden Hose|Expandable Hose",
        "water hose|hosepipe|yard hose",
        35.0,
        "rubber|vinyl|latex",
        "25 ft/25-foot|50 ft/50-foot|100 ft/100-foot",
        "",
        "",
        false
    ),
    leaf!(
        "Electronics",
        "Audio",
        "Headphones",
        "Wireless Headphones|Over-Ear Headphones|Earbuds",
        "headset|cans|earphones",
        90.0,
        "plastic|aluminum|leather",
        "standard|compact",
        "Phone Chargers",
        "Speakers",
        true
    ),
    leaf!(
        "Electronics",
        "Audio",
        "Speakers",
        "Bluetooth Speaker|Portable Speaker|Smart Speaker",
        "wireless speaker|boombox|music box",
        75.0,
        "plastic|fabric|aluminum",
        "10 W/10-watt|20 W/20-watt|40 W/40-watt",
        "Phone Chargers",
        "Headphones",
        true
    ),
    leaf!(
        "Electronics",
        "Power",
        "Phone Chargers",
        "USB-C Charger|Wall Charger|Fast Charger",
        "phone charger|power adapter|charging brick|power plug",
        25.0,
        "plastic|gan",
        "20 W/20-watt|30 W/30-watt|65 W/65-watt",
        "Headphones|Speakers",
        "",
        true
    ),
    leaf!(
        "Electronics",
        "Cables",
        "HDMI Cables",
        "HDMI Cable|HDMI 2.1 Cable",
        "tv cable|video cable|av lead",
        15.0,
        "braided nylon|pvc",
        "3 ft/3-foot/1 m|6 ft/6-foot/2 m|10 ft/10-foot/3 m",
        "Laptop Stands",
        "",
        true
    ),
    leaf!(
        "Electronics",
        "Accessories",
        "Laptop Stands",
        "Laptop Stand|Laptop Riser",
        "notebook riser|computer stand|laptop holder",
        35.0,
        "aluminum|wood|plastic",
        "adjustable|foldable",
        "HDMI Cables",
        "",
        true
    ),
    leaf!(
        "Decor",
        "Rugs",
        "Area Rugs",
        "Area Rug|Rug|Runner Rug",
        "carpet|floor mat|carpet runner",
        150.0,
        "wool|jute|polypropylene|cotton",
        "5x7 ft/5 x 7 feet|8x10 ft/8 x 10 feet|2x8 ft runner",
        "Sofas|Coffee Tables",
        "Bath Mats",
        false
    ),
    leaf!(
        "Decor",
        "Mirrors",
        "Wall Mirrors",
        "Wall Mirror|Round Mirror|Full Length Mirror",
        "looking glass|vanity mirror|dressing mirror",
        90.0,
        "metal|wood|rattan|brass",
        "24 in./24-inch/61 cm|36 in./36-inch/91 cm|full length",
        "",
        "",
        false
    ),
    leaf!(
        "Decor",
        "Window",
        "Curtains",
        "Curtain Panel|Blackout Curtains|Sheer Curtains",
        "drapes|drapery|window curtains",
        40.0,
        "polyester|linen|velvet|cotton",
        "84 in./84-inch/213 cm|96 in./96-inch/244 cm",
        "",
        "",
        false
    ),
    leaf!(
        "Decor",
        "Vases",
        "Vases",
        "Vase|Bud Vase|Floor Vase",
        "flower pot|flower holder|urn",
        30.0,
        "ceramic|glass|terracotta|metal",
        "small|medium|large",
        "",
        "",
        false
    ),
    leaf!(
        "Decor",
        "Frames",
        "Picture Frames",
        "Picture Frame|Gallery Frame",
        "photo frame|photo holder",
        20.0,
        "wood|metal|acrylic",
        "4x6 in./4 x 6 inch|5x7 in./5 x 7 inch|8x10 in./8 x 10 inch",
        "Bookcases",
        "",
        false
    ),
    leaf!(
        "Decor",
        "Clocks",
        "Wall Clocks",
        "Wall Clock|Clock",
        "timepiece|kitchen clock",
        40.0,
        "metal|wood|glass",
        "12 in./12-inch/30 cm|18 in./18-inch/46 cm",
        "",
        "",
        false
    ),
    leaf!(
        "Kitchen",
        "Storage",
        "Food Containers",
        "Food Storage Container Set|Meal Prep Containers",
        "tupperware|lunch box|leftover boxes",
        28.0,
        "glass|plastic|stainless steel",
        "10-piece|18-piece|24-piece",
        "",
        "",
        false
    ),
    leaf!(
        "Bath",
        "Storage",
        "Bathroom Shelves",
        "Bathroom Shelf|Over-Toilet Shelf|Shower Caddy",
        "bathroom rack|toilet shelf|shower organiser|shower organizer",
        45.0,
        "bamboo|metal|stainless steel|plastic",
        "2-tier|3-tier",
        "Bath Towels",
        "",
        false
    ),
];

/// Colours: (canonical word used in titles, spellings shoppers use).
pub const COLOURS: &[(&str, &str)] = &[
    ("grey", "grey|gray|charcoal"),
    ("black", "black"),
    ("white", "white|off white"),
    ("navy", "navy|dark blue"),
    ("blue", "blue"),
    ("green", "green|sage|olive"),
    ("beige", "beige|cream|oatmeal"),
    ("brown", "brown|chocolate"),
    ("pink", "pink|blush"),
    ("yellow", "yellow|mustard"),
    ("red", "red"),
    ("silver", "silver|chrome"),
];

/// Adjectives sprinkled in titles (no search meaning).
pub const STYLE_WORDS: &[&str] = &[
    "Modern",
    "Classic",
    "Mid-Century",
    "Farmhouse",
    "Minimalist",
    "Scandinavian",
    "Industrial",
    "Coastal",
    "Premium",
    "Essential",
];

/// Syllables for brand names.
pub const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ver", "to", "sa", "ne", "ra", "zu", "bel", "dor", "fin", "ga", "hal", "is",
    "jor", "ku", "lum", "mor", "nix", "ol", "pra", "quin", "ros", "sen", "tal", "ul", "vin", "wes",
    "yar",
];

/// Splits a `|`-separated list (empty string → empty list).
pub fn list(s: &'static str) -> Vec<&'static str> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split('|').collect()
    }
}
