"""Word lists for synthetic records: given names with nicknames, surnames and street names."""

from __future__ import annotations

# Common given names of children born in England and Wales 2002-2010 (ONS baby-name lists
# are the inspiration; these are everyday names, not a copy of any list).
FIRST_NAMES_MALE: tuple[str, ...] = (
    "Jack", "Thomas", "Joshua", "Oliver", "Harry", "James", "William", "Samuel", "Daniel",
    "Charlie", "Benjamin", "Joseph", "Callum", "George", "Jake", "Alfie", "Luke", "Matthew",
    "Ethan", "Lewis", "Jacob", "Connor", "Mohammed", "Ryan", "Adam", "Alexander", "Liam",
    "Nathan", "Tyler", "Kieran", "Jamie", "Michael", "Christopher", "Edward", "Robert",
    "Aaron", "Bradley", "Cameron", "Dylan", "Reece", "Kai", "Ali", "Harvey", "Owen",
    "Zachary", "Isaac", "Leo", "Rhys", "Anthony", "Nicholas",
)
FIRST_NAMES_FEMALE: tuple[str, ...] = (
    "Emily", "Chloe", "Megan", "Jessica", "Sophie", "Lauren", "Charlotte", "Hannah", "Olivia",
    "Lucy", "Ellie", "Amy", "Katie", "Grace", "Holly", "Georgia", "Emma", "Molly", "Abigail",
    "Bethany", "Rebecca", "Eleanor", "Amelia", "Mia", "Isabella", "Jasmine", "Leah",
    "Courtney", "Paige", "Shannon", "Elizabeth", "Victoria", "Samantha", "Natalie", "Aisha",
    "Zara", "Ruby", "Phoebe", "Daisy", "Evie", "Niamh", "Alice", "Caitlin", "Jade", "Kayleigh",
    "Amber", "Freya", "Katherine", "Alexandra", "Jennifer",
)

# Nicknames a records clerk may type instead of the registered given name.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Thomas": ("Tom", "Tommy"), "Joshua": ("Josh",), "Oliver": ("Olly", "Ollie"),
    "Harry": ("Haz",), "James": ("Jim", "Jamie"), "William": ("Will", "Bill", "Billy"),
    "Samuel": ("Sam", "Sammy"), "Daniel": ("Dan", "Danny"), "Charlie": ("Charles",),
    "Benjamin": ("Ben", "Benji"), "Joseph": ("Joe", "Joey"), "Matthew": ("Matt",),
    "Lewis": ("Lew",), "Jacob": ("Jake",), "Mohammed": ("Mo",), "Alexander": ("Alex", "Xander"),
    "Nathan": ("Nate",), "Michael": ("Mike", "Mikey"), "Christopher": ("Chris",),
    "Edward": ("Ed", "Eddie", "Ted"), "Robert": ("Rob", "Bob", "Bobby"), "Cameron": ("Cam",),
    "Zachary": ("Zach", "Zac"), "Anthony": ("Tony", "Ant"), "Nicholas": ("Nick", "Nicky"),
    "Jessica": ("Jess",), "Charlotte": ("Charlie", "Lottie"), "Olivia": ("Liv",),
    "Abigail": ("Abbie", "Abby"), "Bethany": ("Beth",), "Rebecca": ("Becky", "Becca"),
    "Eleanor": ("Ellie", "Nell"), "Amelia": ("Millie",), "Isabella": ("Bella", "Izzy"),
    "Elizabeth": ("Liz", "Lizzie", "Beth"), "Victoria": ("Vicky", "Tori"),
    "Samantha": ("Sam",), "Natalie": ("Nat",), "Katherine": ("Kate", "Katie", "Kat"),
    "Alexandra": ("Alex", "Lexi"), "Jennifer": ("Jen", "Jenny"), "Megan": ("Meg",),
    "Georgia": ("George",), "Jasmine": ("Jas", "Jazz"),
}

SURNAMES: tuple[str, ...] = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
    "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood",
    "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King",
    "Baker", "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis",
    "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook",
    "Carter", "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox",
    "Richards", "Khan", "Marshall", "Anderson", "Simpson", "Ellis", "Adams", "Singh",
    "Begum", "Wilkinson", "Foster", "Chapman", "Powell", "Webb", "Rogers", "Gray", "Mason",
    "Ali", "Hunt", "Hussain", "Campbell", "Matthews", "Owen", "Palmer", "Holmes", "Mills",
    "Barnes", "Knight", "Lloyd", "Butler", "Russell", "Barker", "Fisher", "Stevens",
    "Jenkins", "Murray", "Dixon", "Harvey", "Ahmed", "Kaur", "Nowak", "Kowalski", "Okafor",
    "Mensah", "O'Brien", "Fletcher",
)

# Generic English street names (no claim that a street of that name exists in a given LSOA).
STREETS: tuple[str, ...] = (
    "Station Road", "Church Street", "London Road", "Park Road", "Victoria Road",
    "Green Lane", "Manor Road", "Church Road", "Park Avenue", "Queens Road", "New Road",
    "Grange Road", "Kings Road", "Mill Lane", "The Crescent", "Chestnut Avenue",
    "Windsor Road", "Richmond Road", "York Road", "Springfield Road", "Oxford Road",
    "Albert Road", "St John's Road", "Stanley Road", "Highfield Road", "Meadow Way",
    "Orchard Close", "Cedar Drive", "Beech Grove", "Willow Close", "Elm Road",
    "Southfield Road", "North Street", "West Street", "Priory Road", "Cherry Tree Lane",
    "The Avenue", "Brook Street", "Hawthorn Way", "Oak Tree Road",
)
TOWN_CENTRE_STREETS: tuple[str, ...] = (
    "High Street", "Market Place", "Broad Street", "Queen Street", "Station Road",
    "Bridge Street", "George Street", "King Street", "Market Street", "Castle Street",
)
