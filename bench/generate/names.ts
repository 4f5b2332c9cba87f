/** Name and place pools for generated people; combined they give tens of thousands of distinct names. */

export const FAMILY_NAMES = [
  'Abbott', 'Acosta', 'Adams', 'Alvarez', 'Andersen', 'Armstrong', 'Bailey', 'Baker', 'Barnes', 'Becker',
  'Bennett', 'Bergstrom', 'Bishop', 'Brooks', 'Bryant', 'Burke', 'Campbell', 'Carlson', 'Carter', 'Castillo',
  'Chen', 'Clarke', 'Coleman', 'Collins', 'Cooper', 'Cruz', 'Dalton', 'Davies', 'Delgado', 'Diaz',
  'Dixon', 'Duarte', 'Dunn', 'Edwards', 'Ellis', 'Evans', 'Farrell', 'Fischer', 'Fleming', 'Flores',
  'Foster', 'Fournier', 'Garcia', 'Gibson', 'Gomez', 'Gonzalez', 'Graham', 'Grant', 'Gray', 'Greene',
  'Gutierrez', 'Hall', 'Hansen', 'Harper', 'Harris', 'Hayes', 'Henderson', 'Hernandez', 'Hoffman', 'Holland',
  'Howard', 'Hughes', 'Hunt', 'Ito', 'Jackson', 'Jansen', 'Jensen', 'Jimenez', 'Johansson', 'Johnson',
  'Jones', 'Kaur', 'Keller', 'Kelly', 'Kennedy', 'Khan', 'Kim', 'Klein', 'Kowalski', 'Kruger',
  'Lambert', 'Larsen', 'Lee', 'Lewis', 'Lopez', 'Lund', 'Martin', 'Martinez', 'Mason', 'Meyer',
  'Miller', 'Mitchell', 'Moreau', 'Morales', 'Morgan', 'Muller', 'Murphy', 'Nakamura', 'Nguyen', 'Nielsen',
  'Novak', 'Obrien', 'Olsen', 'Ortiz', 'Owens', 'Park', 'Patel', 'Perez', 'Perry', 'Peterson',
  'Phillips', 'Pierce', 'Powell', 'Price', 'Quinn', 'Ramirez', 'Reed', 'Reyes', 'Richter', 'Rivera',
  'Roberts', 'Robinson', 'Rodriguez', 'Rossi', 'Russell', 'Sanchez', 'Sato', 'Schmidt', 'Schneider', 'Scott',
  'Shaw', 'Silva', 'Simmons', 'Singh', 'Sorensen', 'Stewart', 'Sullivan', 'Suzuki', 'Tanaka', 'Taylor',
  'Thomas', 'Thompson', 'Torres', 'Turner', 'Vargas', 'Vasquez', 'Wagner', 'Walker', 'Wallace', 'Ward',
  'Watson', 'Weber', 'Wells', 'West', 'White', 'Williams', 'Wilson', 'Wong', 'Wright', 'Young',
  'Zhang', 'Zimmerman', 'Müller', 'Núñez', 'Søndergaard', 'Łukasik', 'Ó Briain', 'García-Márquez',
] as const;

export const MALE_GIVEN_NAMES = [
  'Aaron', 'Adam', 'Adrian', 'Ahmed', 'Alan', 'Albert', 'Alejandro', 'Alex', 'Andre', 'Andrew',
  'Anthony', 'Arjun', 'Arthur', 'Ben', 'Brandon', 'Brian', 'Bruno', 'Caleb', 'Carlos', 'Charles',
  'Chris', 'Daniel', 'David', 'Diego', 'Dmitri', 'Edward', 'Elias', 'Eric', 'Ethan', 'Felix',
  'Francisco', 'Frank', 'George', 'Hassan', 'Henry', 'Hiroshi', 'Ian', 'Isaac', 'Ivan', 'Jack',
  'Jacob', 'James', 'Jamal', 'Javier', 'John', 'Jonas', 'Jorge', 'José', 'Joseph', 'Juan',
  'Kenji', 'Kevin', 'Lars', 'Leo', 'Liam', 'Lucas', 'Luis', 'Marco', 'Mark', 'Martin',
  'Mateo', 'Matthew', 'Michael', 'Mohammed', 'Nathan', 'Nicholas', 'Noah', 'Oliver', 'Omar', 'Oscar',
  'Patrick', 'Paul', 'Pedro', 'Peter', 'Rafael', 'Raj', 'Richard', 'Robert', 'Ryan', 'Samuel',
  'Sebastian', 'Stefan', 'Steven', 'Thomas', 'Timothy', 'Tomás', 'Victor', 'Wei', 'William', 'Yusuf',
] as const;

export const FEMALE_GIVEN_NAMES = [
  'Abigail', 'Aisha', 'Alice', 'Amelia', 'Ana', 'Angela', 'Anna', 'Aria', 'Ava', 'Beatriz',
  'Camila', 'Carmen', 'Charlotte', 'Chloe', 'Claire', 'Daniela', 'Diana', 'Elena', 'Elif', 'Eliza',
  'Emily', 'Emma', 'Eva', 'Fatima', 'Freya', 'Grace', 'Hannah', 'Harper', 'Ingrid', 'Isabella',
  'Jade', 'Jana', 'Jennifer', 'Jessica', 'Julia', 'Karen', 'Keiko', 'Laura', 'Layla', 'Leila',
  'Lena', 'Linda', 'Lucia', 'Maria', 'Mariana', 'Maya', 'Mei', 'Mia', 'Mila', 'Nadia',
  'Naomi', 'Natalia', 'Nina', 'Nora', 'Olivia', 'Paula', 'Priya', 'Rachel', 'Renée', 'Rosa',
  'Ruth', 'Sakura', 'Sara', 'Sofia', 'Sophie', 'Stella', 'Susan', 'Tara', 'Valentina', 'Victoria',
  'Yara', 'Yuki', 'Zara', 'Zoë', 'Ingeborg', 'Agnieszka', 'Chiara', 'Dolores', 'Esther', 'Greta',
] as const;

export const STREETS = [
  'Oak Street', 'Maple Avenue', 'Cedar Lane', 'Elm Road', 'Harbor Drive', 'Hillside Terrace', 'Mill Road',
  'River Street', 'Pine Court', 'Lakeview Boulevard', 'Chestnut Street', 'Highland Avenue', 'School Street',
  'Summer Street', 'Washington Street', 'Union Square', 'Park Place', 'Orchard Way', 'Meadow Lane', 'Bay Road',
] as const;

export const CITIES = [
  { city: 'Boston', postalCode: '02110' }, { city: 'Worcester', postalCode: '01608' },
  { city: 'Springfield', postalCode: '01103' }, { city: 'Cambridge', postalCode: '02139' },
  { city: 'Lowell', postalCode: '01852' }, { city: 'Brockton', postalCode: '02301' },
  { city: 'Quincy', postalCode: '02169' }, { city: 'Lynn', postalCode: '01901' },
  { city: 'New Bedford', postalCode: '02740' }, { city: 'Salem', postalCode: '01970' },
  { city: 'Peabody', postalCode: '01960' }, { city: 'Framingham', postalCode: '01701' },
] as const;

export const SPECIALTIES = [
  { code: '394814009', display: 'General practice' },
  { code: '394579002', display: 'Cardiology' },
  { code: '394583002', display: 'Endocrinology' },
  { code: '394537008', display: 'Pediatric specialty' },
  { code: '394585009', display: 'Obstetrics and gynecology' },
  { code: '394591006', display: 'Neurology' },
] as const;
